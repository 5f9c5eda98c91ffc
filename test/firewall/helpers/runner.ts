// Runs the firewall engine (or the singleton proxies on top of it) inside the current network
// namespace: tests start it with `ip netns exec <ns> node runner.mjs '<json>'` after bundling.
// Prints one JSON line: { ok, error?, code?, name?, spawns, nftCalls, ms[] }.
import { spawnSync } from 'node:child_process';
import { createBackendFirewall, createFirewall } from '../../../src/firewall/create.js';
import { nftStats } from '../../../src/firewall/libnftables.js';
import { spawnStats } from '../../../src/firewall/spawn.js';
import type { ProxyRule } from '../../../src/firewall/types.js';
import { setLogSink } from '../../../src/log.js';
import { emptyNetmap, type NodeInfo } from '../../../src/netmap/types.js';
import { SingletonProxies } from '../../../src/proxies/singleton.js';
import { settingsFromEnv } from '../../../src/settings/fromEnv.js';

export interface RunnerStep {
  groups?: Record<string, ProxyRule[]>;
  /** Singleton proxies: env for settings, own addresses, peers. */
  proxies?: { env: Record<string, string>; addrs: string[]; peers?: NodeInfo[] };
  /** Firewall.removeAll() (what a clean exit does). */
  removeAll?: boolean;
}

export interface RunnerInput {
  mode: 'nftables' | 'iptables';
  /** When set, the firewall comes from createFirewall(env) (mode detection) instead of `mode`. */
  env?: Record<string, string>;
  variant?: 'legacy' | 'nft';
  steps: RunnerStep[];
}

export interface RunnerOutput {
  ok: boolean;
  error?: string;
  name?: string;
  code?: string;
  /** Processes spawned / libnftables calls during the steps (after creation and priming). */
  spawns: number;
  nftCalls: number;
  ms: number[];
  logs: string[];
  /** The engine's mode and IPv6 NAT availability. */
  mode?: string;
  ipv6nat?: boolean;
}

async function main(): Promise<void> {
  // Only inside a cbfw-* namespace a test created: never touch the host's firewall.
  const here = spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (!here.startsWith('cbfw-') || here !== process.env.CBFW_NETNS) {
    process.stderr.write(`runner: refusing to run outside the test's cbfw-* network namespace (in ${JSON.stringify(here)})\n`);
    process.exit(2);
  }
  const input = JSON.parse(process.argv[2]) as RunnerInput;
  const logs: string[] = [];
  setLogSink((l) => logs.push(l.trimEnd()));
  const out: RunnerOutput = { ok: true, spawns: 0, nftCalls: 0, ms: [], logs };
  try {
    // Programs are found through the process's PATH, as in containerboot.
    if (input.env?.PATH) process.env.PATH = input.env.PATH;
    const fw = input.env
      ? await createFirewall({ PATH: process.env.PATH, ...input.env })
      : await createBackendFirewall({ mode: input.mode, variant: input.variant });
    out.mode = fw.mode;
    out.ipv6nat = fw.hasIPv6NAT();
    const s0 = spawnStats.count, n0 = nftStats.calls;
    for (const step of input.steps) {
      const t = performance.now();
      // Chaos tests start their kill timer at this mark (the batch begins right after it).
      if (process.env.CBFW_MARK) process.stderr.write('CBFW-APPLY\n');
      if (step.groups) await fw.apply(step.groups);
      if (step.removeAll) await fw.removeAll();
      if (step.proxies) {
        const settings = settingsFromEnv({ TS_USERSPACE: 'false', ...step.proxies.env }).settings;
        const p = new SingletonProxies({ settings, firewall: fw, ensureForwarding: async () => undefined });
        const nm = emptyNetmap();
        nm.self = { id: '1', stableID: 'nSELF', name: 'proxy.tailnet.ts.net.', key: 'k', addresses: step.proxies.addrs, allowedIPs: step.proxies.addrs };
        for (const peer of step.proxies.peers ?? []) nm.peersByID.set(peer.id, peer);
        try { await p.onNetmap(nm); } finally { p.close(); }
      }
      out.ms.push(performance.now() - t);
    }
    out.spawns = spawnStats.count - s0;
    out.nftCalls = nftStats.calls - n0;
  } catch (err) {
    out.ok = false;
    out.error = (err as Error).message;
    out.name = (err as Error).name;
    out.code = (err as { code?: string }).code;
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
