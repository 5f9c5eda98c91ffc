// Retained JS heap of the singleton egress-FQDN path (netmap model, planner, firewall engine with
// the nftables backend; the libnftables call replaced by a recorder, so no kernel) over 1200 netmap
// changes that each move the target. Flat after GC ⇒ no retention in that path.
//   bash test/lab/run.sh bench/churnHeap.ts
import v8 from 'node:v8';
import vm from 'node:vm';
import { FirewallEngine } from '../src/firewall/engine.js';
import { FirewallApplyError } from '../src/firewall/errors.js';
import { NftablesBackend } from '../src/firewall/nftables.js';
import { setLogSink } from '../src/log.js';
import { applyNotify } from '../src/netmap/update.js';
import { emptyNetmap } from '../src/netmap/types.js';
import { SingletonProxies } from '../src/proxies/singleton.js';
import { parseJSONLossless } from '../src/localapi/json.js';
setLogSink(() => {});
let batches = 0;
const fw = new FirewallEngine(new NftablesBackend([4], (c) => { if (c.startsWith('list ')) throw new FirewallApplyError('No such file or directory', 'ENOENT'); batches++; return ''; }), false);
await fw.prime();
const settings = { tailnetTargetFQDN: 'cmp-target.tailnet.ts.net', userspace: false, root: '/nonexistent' } as any;
const p = new SingletonProxies({ settings, firewall: fw, ensureForwarding: async () => {} });
const state = emptyNetmap();
const addr = (i: number) => `100.70.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
v8.setFlagsFromString('--expose-gc');
const g = vm.runInNewContext('gc') as () => void;
for (let i = 0; i <= 1200; i++) {
  const line = JSON.stringify({ Version: 'x', SelfChange: { ID: 1, StableID: 'nSelf', Name: 'self.tailnet.ts.net.', Addresses: ['100.64.0.1/32'] }, PeersChanged: [{ ID: 2, StableID: 'nT', Name: 'cmp-target.tailnet.ts.net.', Key: 'k', Addresses: [`${addr(i)}/32`], AllowedIPs: [`${addr(i)}/32`] }] });
  applyNotify(state, parseJSONLossless(line) as any);
  await p.onNetmap(state);
  if (i % 300 === 0) { g(); g(); console.log(`after ${i} netmaps: heapUsed ${(process.memoryUsage().heapUsed / 1048576).toFixed(2)} MiB, batches ${batches}`); }
}
