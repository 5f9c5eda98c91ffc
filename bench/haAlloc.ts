// Where HA egress services allocate: the egress runner (chokidar watch, planner), the firewall
// engine with the nftables or iptables backend (libnftables / iptables-restore replaced by
// recorders: JS only) and the Kubernetes state store over TLS to the fake API server, driven
// through the same steps as bench/compare/services.ts (N services × 2 port maps with IP targets:
// all added, one target changed, all removed). V8's sampling heap profiler runs with collected
// objects included, so the figures are bytes allocated (garbage included), not bytes retained.
//   bash test/lab/run.sh bench/haAlloc.ts [services=500] [nftables|iptables] [top=25]
import { rm } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { FirewallEngine } from '../src/firewall/engine.js';
import { IptablesBackend, iptablesTools } from '../src/firewall/iptables.js';
import { NftablesBackend } from '../src/firewall/nftables.js';
import { FirewallApplyError } from '../src/firewall/errors.js';
import { setLogSink } from '../src/log.js';
import { emptyNetmap } from '../src/netmap/types.js';
import { EgressServices } from '../src/services/egress/runner.js';
import { egressConfigVolume, startBenchKube } from './benchKube.js';
import { configJSON, targets } from './compare/services.js';

const N = Number(process.argv[2] || 500);
const mode = process.argv[3] || 'nftables';
const top = Number(process.argv[4] || 25);
setLogSink(() => {});

const { api, settings, kube } = await startBenchKube('10.244.0.5');
const { dir, publish } = egressConfigVolume('cb-alloc-egress-');
publish('{}');

let inputBytes = 0;
const fw = mode === 'nftables'
  ? new FirewallEngine(new NftablesBackend([4], (cmds) => {
    if (cmds.startsWith('list ')) throw new FirewallApplyError('No such file or directory', 'ENOENT');
    inputBytes += cmds.length;
    return '';
  }), false)
  : new FirewallEngine(new IptablesBackend([4], iptablesTools(''), async (_cmd, _args, stdin) => {
    inputBytes += stdin?.length ?? 0;
    return { code: 0, stdout: stdin === undefined ? '*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n' : '', stderr: '' };
  }), false);
await fw.prime();

let syncs = 0;
const realApply = fw.apply.bind(fw);
fw.apply = async (g) => { syncs++; await realApply(g); };
let statusWrites = 0;
const realReplace = kube.replaceKey.bind(kube);
kube.replaceKey = async (k, v, s) => { statusWrites++; await realReplace(k, v, s); };

const netmap = emptyNetmap();
netmap.self = { id: '1', stableID: 's1', name: 'self.tailnet.ts.net.', key: 'k', addresses: ['100.64.0.1/32'], allowedIPs: [] };
const eg = new EgressServices({ settings: { ...settings, egressProxiesCfgPath: dir }, firewall: fw, kube });
await eg.start(netmap);
let runs = 0;
const egSync = (eg as unknown as { sync: () => Promise<void> }).sync.bind(eg);
(eg as unknown as { sync: () => Promise<void> }).sync = () => { runs++; return egSync(); };

const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');

interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }

async function step(label: string, text: string, settleMs = 400): Promise<void> {
  const w0 = statusWrites;
  runs = 0;
  inputBytes = 0;
  await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const t0 = performance.now();
  publish(text);
  while (statusWrites === w0) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, settleMs));
  await eg.idle();
  const { profile } = await session.post('HeapProfiler.stopSampling') as unknown as { profile: { head: ProfileNode } };
  const byFn = new Map<string, number>();
  let total = 0;
  const name = (f: ProfileNode['callFrame']) => `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}`;
  // Built-ins (no script) are charged to their caller: "next ← planNft …".
  const walk = (n: ProfileNode, parent: string) => {
    const f = n.callFrame;
    const key = f.url === '' && parent !== '' ? `${f.functionName || '(anonymous)'} ← ${parent}` : name(f);
    byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c, f.url === '' ? parent : name(f));
  };
  walk(profile.head, '');
  console.log(`\n== ${label}: ${(total / 1048576).toFixed(2)} MiB allocated (sampled), status after ${ms.toFixed(0)} ms, ${syncs} firewall batches so far, ${runs} syncs, ${inputBytes} bytes of rule text`);
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(v / 1048576).toFixed(3).padStart(8)} MiB  ${k}`);
}

const a = targets(N, 64);
const b = new Map(a);
b.set('svc-0', '100.99.0.1');
await step('all added', configJSON(a));
await step('one changed', configJSON(b));
await step('all removed', '{}');
await eg.close();
fw.close();
kube.close();
await api.close();
await rm(dir, { recursive: true, force: true });
