// Factory: picks fake / nftables / iptables like upstream and returns a primed engine.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { parseGoBool } from '../settings/parse.js';
import type { Family } from '../util/netip.js';
import { FirewallEngine } from './engine.js';
import { FakeFirewall } from './fake.js';
import { IptablesBackend, iptablesTools, variantFromVersion, type IptablesVariant } from './iptables.js';
import { checkIPv6, iptablesHasIPv6NAT } from './ipv6.js';
import { ensureLibnftables, nftRun } from './libnftables.js';
import { selectMode, type ModeDeps } from './mode.js';
import { NftablesBackend } from './nftables.js';
import { runProcess, type Runner } from './spawn.js';
import { doctorHint } from '../util/doctorHint.js';
import { FirewallApplyError } from './errors.js';
import type { Firewall } from './types.js';

export function inPath(cmd: string, env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try { accessSync(path.join(dir, cmd), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/** The variant `iptables --version` reports, or '' (the plain tool names) when its restore tool is not on PATH. */
export function usableVariant(v: IptablesVariant): IptablesVariant {
  return v && !inPath(`iptables-${v}-restore`) ? '' : v;
}

/** The iptables-restore/-save tools of `variant` for `family` that are not on PATH. */
export function missingIptablesTools(variant: IptablesVariant, family: Family): string[] {
  const tools = iptablesTools(variant);
  return [tools.restore[family], tools.save[family]].filter((t) => !inPath(t));
}

/** TS_TEST_FAKE_NETFILTER_6: unset, unparsable or true ⇒ IPv6 NAT available; false ⇒ not. */
export function fakeIPv6(env: NodeJS.ProcessEnv): boolean {
  const v = env.TS_TEST_FAKE_NETFILTER_6;
  return v === undefined ? true : (parseGoBool(v) ?? true);
}

function nftProbe(ipv6: boolean): void {
  const fams = ipv6 ? ['ip', 'ip6'] : ['ip'];
  for (const f of fams) {
    nftRun(`add table ${f} ts-test-nat\nadd chain ${f} ts-test-nat ts-test-postrouting { type nat hook postrouting priority srcnat; policy accept; }\ndelete table ${f} ts-test-nat`);
  }
}

export function nftRuleCount(): number {
  const doc = JSON.parse(nftRun('list ruleset')) as { nftables?: Array<Record<string, unknown>> };
  return (doc.nftables ?? []).filter((o) => 'rule' in o).length;
}

export interface BackendOptions {
  mode: 'iptables' | 'nftables';
  /** iptables only: which binaries to use; '' = the plain names. Default: the variant `iptables --version` reports. */
  variant?: IptablesVariant;
  /** Override IPv6 detection. */
  ipv6?: boolean;
  run?: Runner;
}

/** Builds and primes a real engine for a given mode (used by createFirewall, tests and benchmarks). */
export async function createBackendFirewall(opts: BackendOptions): Promise<FirewallEngine> {
  const run = opts.run ?? runProcess;
  const v6 = opts.ipv6 ?? (await checkIPv6(run));
  let engine: FirewallEngine;
  if (opts.mode === 'nftables') {
    ensureLibnftables();
    const fams: Family[] = v6 ? [4, 6] : [4];
    engine = new FirewallEngine(new NftablesBackend(fams), v6);
  } else {
    let variant = opts.variant;
    if (variant === undefined) {
      let ver;
      try {
        ver = await run('iptables', ['--version']);
      } catch (err) {
        throw new Error(`creating iptables runner: ${(err as Error).message}`);
      }
      if (ver.code !== 0) throw new Error(`creating iptables runner: iptables --version failed: ${ver.stderr.trim()}`);
      variant = usableVariant(variantFromVersion(ver.stdout));
    }
    const tools = iptablesTools(variant);
    const missing = missingIptablesTools(variant, 4)[0];
    if (missing !== undefined) throw new Error(`creating iptables runner: ${missing} not found in $PATH`);
    // IPv6 NAT also needs the ip6tables tools we write with; report it only if both are there.
    const nat6 = (opts.ipv6 ?? (await iptablesHasIPv6NAT(run, v6))) && missingIptablesTools(variant, 6).length === 0;
    const fams: Family[] = nat6 ? [4, 6] : [4];
    engine = new FirewallEngine(new IptablesBackend(fams, tools, run), nat6);
  }
  await engine.prime();
  return engine;
}

/**
 * The orchestrator's entry point: TS_TEST_FAKE_NETFILTER selects the in-process fake (no process,
 * no netlink); otherwise TS_DEBUG_FIREWALL_MODE / auto-detection as upstream. Throws a clear Error.
 */
export async function createFirewall(env: NodeJS.ProcessEnv = process.env): Promise<Firewall> {
  const fakeFlag = env.TS_TEST_FAKE_NETFILTER;
  if (fakeFlag !== undefined && parseGoBool(fakeFlag) === true) return new FakeFirewall(fakeIPv6(env));
  const run = runProcess;
  let v6: boolean | undefined;
  const ipv6 = async () => (v6 ??= await checkIPv6(run));
  const deps: ModeDeps = {
    run,
    ipv6,
    nftProbe: (six) => { ensureLibnftables(); nftProbe(six); },
    nftRuleCount,
  };
  try {
    const mode = await selectMode(env, deps);
    return await createBackendFirewall({ mode, ipv6: mode === 'nftables' ? await ipv6() : undefined, run });
  } catch (err) {
    // Refusals for lack of privilege point at the capability check, everything else at the mode.
    const denied = err instanceof FirewallApplyError && (err.code === 'EPERM' || err.code === 'EACCES');
    throw new Error(`${(err as Error).message}${doctorHint(denied ? 'capabilities' : 'firewall.mode')}`, { cause: err });
  }
}
