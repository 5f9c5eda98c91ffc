// Runner of bench/services.mjs. Budgets (issue #6), 500 egress services × 2 ports:
//  A. config change → rules planned and applied and status written: ≤ 150 ms;
//  B. a netmap change that moves one FQDN target → new rules applied: ≤ 20 ms.
// Issue #11 adds the side-by-side workloads: all services added (config → rules + status) and all
// removed, ≥ 50× faster than upstream at 500 services.
// Real parts: the egress runner (chokidar watch, planner), the firewall engine (with the nftables
// backend and a recorder in place of libnftables, or — argument 3 — a real backend inside the
// namespace bench/services.mjs made), and the Kubernetes state store talking TLS to the fake API
// server on loopback. Arguments: runs, services (500), backend (recorder | nftables |
// iptables-legacy | iptables-nft).
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { createBackendFirewall } from '../src/firewall/create.js';
import { FirewallEngine } from '../src/firewall/engine.js';
import { FirewallApplyError } from '../src/firewall/errors.js';
import { NftablesBackend } from '../src/firewall/nftables.js';
import { setLogSink } from '../src/log.js';
import { emptyNetmap, type NetmapState } from '../src/netmap/types.js';
import { EgressServices } from '../src/services/egress/runner.js';
import { egressConfigVolume, startBenchKube } from './benchKube.js';

const runs = Number(process.argv[2] || 15);
const N = Number(process.argv[3] || 500);
const backend = process.argv[4] || 'recorder';
setLogSink(() => {});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]): string => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`;

function config(targetPortBase: number): string {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < N; i++) {
    o[`svc-${i}`] = {
      tailnetTarget: { fqdn: `peer-${i}.tailnet.ts.net` },
      ports: [{ protocol: 'tcp', matchPort: 10000 + i, targetPort: targetPortBase }, { protocol: 'udp', matchPort: 20000 + i, targetPort: 53 }],
    };
  }
  return JSON.stringify(o);
}

function netmap(moved: number | undefined, gen: number): NetmapState {
  const s = emptyNetmap();
  s.self = { id: '1', stableID: 's1', name: 'self.tailnet.ts.net.', key: 'k', addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'], allowedIPs: [] };
  for (let i = 0; i < N; i++) {
    const third = i === moved ? 200 + (gen % 50) : Math.floor(i / 250) + 1;
    const a = [`100.64.${third}.${(i % 250) + 1}/32`, `fd7a:115c:a1e0::${third.toString(16)}:${((i % 250) + 1).toString(16)}/128`];
    s.peersByID.set(String(100 + i), { id: String(100 + i), stableID: `p${i}`, name: `peer-${i}.tailnet.ts.net.`, key: `k${i}`, addresses: a, allowedIPs: a });
  }
  return s;
}

const { api, settings, kube } = await startBenchKube('10.0.0.1');
// Kubelet-style config volume: files are symlinks through `..data`, updates swap `..data`.
const { dir, publish } = egressConfigVolume('cb-bench-egress-');
publish(config(80));

const nftTexts: string[] = [];
const run = (cmds: string): string => {
  if (cmds.startsWith('list ')) throw new FirewallApplyError('No such file or directory', 'ENOENT');
  nftTexts.push(cmds);
  return '';
};
let fw: FirewallEngine;
if (backend === 'recorder') {
  fw = new FirewallEngine(new NftablesBackend([4, 6], run), true);
  await fw.prime();
} else {
  if (!process.env.CBSV_NETNS) throw new Error('a real backend changes firewall rules: run it through bench/services.mjs --real (as root)');
  fw = backend === 'nftables' ? await createBackendFirewall({ mode: 'nftables' })
    : await createBackendFirewall({ mode: 'iptables', variant: backend === 'iptables-legacy' ? 'legacy' : 'nft' });
}

// Timestamps of the end of each firewall batch and each status write.
let lastApply = 0;
let lastStatus = 0;
let applyMs = 0;
let statusMs = 0;
const realApply = fw.apply.bind(fw);
fw.apply = async (g) => { const t = performance.now(); await realApply(g); lastApply = performance.now(); applyMs = lastApply - t; };
const realReplace = kube.replaceKey.bind(kube);
kube.replaceKey = async (k, v, s) => { const t = performance.now(); await realReplace(k, v, s); lastStatus = performance.now(); statusMs = lastStatus - t; };

const eg = new EgressServices({ settings: { ...settings, egressProxiesCfgPath: dir }, firewall: fw, kube });
let failure: Error | undefined;
void eg.failed.then((e) => { failure = e; });
const t0 = performance.now();
await eg.start(netmap(undefined, 0));
const first = performance.now() - t0;
if (failure) throw failure;
const lines = nftTexts.at(-1)?.split('\n') ?? [];
const rules = lines.filter((l) => l.startsWith('add rule') || l.startsWith('insert rule')).length;
const elements = lines.filter((l) => l.startsWith('add element')).reduce((n, l) => n + l.split(' comment ').length - 1, 0);

const waitFor = async (cond: () => boolean): Promise<void> => {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out (failure: ${failure?.message})`);
    await new Promise((r) => setImmediate(r));
  }
};

// A. Config change (every service's target port) → rules applied and status written.
const aEnd: number[] = [];
const aApply: number[] = [];
const aStatus: number[] = [];
for (let i = 0; i < runs; i++) {
  const before = lastStatus;
  const start = performance.now();
  publish(config(1000 + i));
  await waitFor(() => lastStatus !== before);
  await eg.idle();
  aEnd.push(lastStatus - start);
  aApply.push(applyMs);
  aStatus.push(statusMs);
}
// B. Netmap change moving one FQDN target → new rules applied.
const b: number[] = [];
const bApply: number[] = [];
for (let i = 0; i < runs; i++) {
  const state = netmap(i % N, i + 1);
  const before = lastApply;
  const start = performance.now();
  eg.onNetmap(state);
  await waitFor(() => lastApply !== before);
  b.push(lastApply - start);
  bApply.push(applyMs);
  await eg.idle();
}
// And a netmap that changes nothing relevant (the common case): detection cost only.
const c: number[] = [];
const same = netmap(0, runs);
for (let i = 0; i < runs; i++) {
  const start = performance.now();
  eg.onNetmap(same);
  c.push(performance.now() - start);
  await eg.idle();
}

// D. All services removed (config `{}`) and all added back (config → rules + status), alternately.
const dRemove: number[] = [];
const dAdd: number[] = [];
for (let i = 0; i < runs; i++) {
  for (const [text, into] of [['{}', dRemove], [config(80), dAdd]] as const) {
    const before = lastStatus;
    const start = performance.now();
    publish(text);
    await waitFor(() => lastStatus !== before);
    await eg.idle();
    into.push(lastStatus - start);
  }
}

console.log(`egress services (${backend}): ${N} services x 2 ports; first sync ${first.toFixed(1)} ms` + (backend === 'recorder' ? `, ${rules} nft rules and ${elements} map elements in its batch` : ''));
console.log(`A  config change -> rules applied + status written (from ..data swap): ${fmt(aEnd)}   budget 150 ms`);
console.log(`   of which firewall.apply (500 groups): ${fmt(aApply)}; status GET+JSON-patch over TLS: ${fmt(aStatus)}`);
console.log(`B  netmap moves one FQDN target -> rules applied: ${fmt(b)}   budget 20 ms`);
console.log(`   of which firewall.apply (1 group): ${fmt(bApply)}`);
console.log(`peak RSS (VmHWM) of this bench process (runner, engine, fake API server): ${/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]} kB`);
console.log(`C  netmap without relevant change (detection only, synchronous): ${fmt(c)}`);
console.log(`D  config with all ${N} services -> rules applied + status written (from none): ${fmt(dAdd)}`);
console.log(`D  config without services -> all rules removed + status written: ${fmt(dRemove)}`);
await eg.close();
fw.close();
kube.close();
await api.close();
await rm(dir, { recursive: true, force: true });
if (failure) throw failure;
