// Firewall mode selection exactly as upstream's linuxfw (netfilter.md §1.6) and IPv6 checks (§1.7).
// All I/O goes through injected functions so the decision logic is unit-tested without a kernel.
// Each decision also says why (and what it saw), for `containerboot doctor`.
import { NotFoundError, type RunResult } from './spawn.js';

export interface ModeDeps {
  run: (cmd: string, args: string[]) => Promise<RunResult>;
  /** Creates and deletes the dummy nat table (ip, and ip6 when v6 works); throws if nft is unusable. */
  nftProbe: (ipv6: boolean) => void;
  /** Number of rules in every table of every family. */
  nftRuleCount: () => number;
  ipv6: () => Promise<boolean>;
  log?: (msg: string) => void;
}

export type Mode = 'iptables' | 'nftables';

/** What auto-detection saw: `iptables -S` + `ip6tables -S` append counts and whether nft works. */
export interface InstalledRules {
  iptablesUsable: boolean;
  iptablesRules: number;
  nftablesUsable: boolean;
  nftablesRules: number;
}

export interface ModeDecision {
  mode: Mode;
  /** Why this mode, in a few words. */
  reason: string;
  /** Present when auto-detection ran. */
  installed?: InstalledRules;
}

function countAppends(out: string): number {
  return out.split('\n').filter((l) => l.startsWith('-A')).length;
}

/** Upstream's pickFirewallModeFromInstalledRules, with its reason. */
export async function explainModeFromInstalledRules(deps: ModeDeps): Promise<ModeDecision> {
  let iptCount = 0;
  let iptOK = false;
  for (const cmd of ['iptables', 'ip6tables']) {
    try {
      const r = await deps.run(cmd, ['-S']);
      if (r.code === 0) { iptOK = true; iptCount += countAppends(r.stdout); }
    } catch { /* counted as unavailable */ }
  }
  let nftOK = false;
  let nftCount = 0;
  try {
    deps.nftProbe(await deps.ipv6());
    nftCount = deps.nftRuleCount();
    nftOK = true;
  } catch { /* nft unavailable */ }
  const installed = { iptablesUsable: iptOK, iptablesRules: iptCount, nftablesUsable: nftOK, nftablesRules: nftCount };
  const pick = (mode: Mode, reason: string): ModeDecision => ({ mode, reason, installed });
  const ipt = '`iptables -S`/`ip6tables -S`';
  if (nftCount > 0 && iptCount === 0) return pick('nftables', `nftables has ${nftCount} rules, ${ipt} none`);
  if (iptCount > 0 && nftCount === 0) return pick('iptables', `${ipt} list ${iptCount} rules, nftables none`);
  if (nftOK) return pick('nftables', iptCount > 0 ? `both have rules (${iptCount} and ${nftCount}) and nftables works` : `no rules in ${ipt} or nftables, and nftables works`);
  if (iptOK) return pick('iptables', 'nftables does not work, iptables does');
  return pick('iptables', 'neither works; iptables is the fallback');
}

/** Upstream's pickFirewallModeFromInstalledRules. */
export async function pickModeFromInstalledRules(deps: ModeDeps): Promise<Mode> {
  return (await explainModeFromInstalledRules(deps)).mode;
}

/** TS_DEBUG_FIREWALL_MODE (exact, case-sensitive): iptables | nftables | auto | "" (default iptables), with the reason. */
export async function explainMode(env: NodeJS.ProcessEnv, deps: ModeDeps): Promise<ModeDecision> {
  const given = env.TS_DEBUG_FIREWALL_MODE ?? '';
  let mode = given;
  if (mode === '') {
    try {
      await deps.run('iptables', ['-S']);
    } catch (err) {
      if (err instanceof NotFoundError) mode = 'nftables';
    }
    if (mode === 'nftables') return { mode: 'nftables', reason: 'TS_DEBUG_FIREWALL_MODE is unset and there is no iptables program' };
    return { mode: 'iptables', reason: 'TS_DEBUG_FIREWALL_MODE is unset (default iptables)' };
  }
  if (mode === 'auto') {
    const d = await explainModeFromInstalledRules(deps);
    return { ...d, reason: `TS_DEBUG_FIREWALL_MODE=auto: ${d.reason}` };
  }
  if (mode === 'nftables' || mode === 'iptables') return { mode, reason: `TS_DEBUG_FIREWALL_MODE=${mode}` };
  return { mode: 'iptables', reason: `TS_DEBUG_FIREWALL_MODE=${JSON.stringify(given)} is not a mode (default iptables)` };
}

export async function selectMode(env: NodeJS.ProcessEnv, deps: ModeDeps): Promise<Mode> {
  return (await explainMode(env, deps)).mode;
}
