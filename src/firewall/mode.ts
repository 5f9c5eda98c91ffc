// Firewall mode selection exactly as upstream's linuxfw (netfilter.md §1.6) and IPv6 checks (§1.7).
// All I/O goes through injected functions so the decision logic is unit-tested without a kernel.
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

function countAppends(out: string): number {
  return out.split('\n').filter((l) => l.startsWith('-A')).length;
}

/** Upstream's pickFirewallModeFromInstalledRules. */
export async function pickModeFromInstalledRules(deps: ModeDeps): Promise<'iptables' | 'nftables'> {
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
  if (nftCount > 0 && iptCount === 0) return 'nftables';
  if (iptCount > 0 && nftCount === 0) return 'iptables';
  if (nftOK) return 'nftables';
  if (iptOK) return 'iptables';
  return 'iptables';
}

/** TS_DEBUG_FIREWALL_MODE (exact, case-sensitive): iptables | nftables | auto | "" (default iptables). */
export async function selectMode(env: NodeJS.ProcessEnv, deps: ModeDeps): Promise<'iptables' | 'nftables'> {
  let mode = env.TS_DEBUG_FIREWALL_MODE ?? '';
  if (mode === '') {
    try {
      await deps.run('iptables', ['-S']);
    } catch (err) {
      if (err instanceof NotFoundError) mode = 'nftables';
    }
  }
  if (mode === 'auto') mode = await pickModeFromInstalledRules(deps);
  return mode === 'nftables' ? 'nftables' : 'iptables';
}
