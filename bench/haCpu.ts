// The JS of one HA egress config change in a fresh process, without the kernel or the API server:
// parse the config, plan, lower + nft diff + render (libnftables replaced by a no-op), status JSON.
// One line of JSON with ms per step. A fresh process per sample, as the first large sync of a pod
// is (cold code); run it a dozen times per build and compare medians:
//   bash test/lab/run.sh bench/haCpu.ts [services=500]
// (node:crypto's hash for the tags, as in Kubernetes mode, where the real runner is.)
import { FirewallEngine } from '../src/firewall/engine.js';
import { NftablesBackend } from '../src/firewall/nftables.js';
import { noKernel } from '../src/boot/warmEgress.js';
import { AppliedGroups } from '../src/services/appliedGroups.js';
import { parseEgressConfigs } from '../src/services/egress/config.js';
import { planEgress } from '../src/services/egress/plan.js';
import { serializeEgressStatus } from '../src/services/egress/status.js';
import { configJSON, targets } from './compare/services.js';
import { useNativeSha256 } from '../src/util/sha256.js';
import { hash } from 'node:crypto';
useNativeSha256((x) => hash('sha256', x));
const N = Number(process.argv[2] || 500);
let t = process.hrtime.bigint();
const lap = () => { const n = process.hrtime.bigint(); const d = Number(n - t) / 1e6; t = n; return d; };
const fw = new FirewallEngine(new NftablesBackend([4, 6], noKernel), true);
const groups = new AppliedGroups();
const text = configJSON(targets(N, 65));
lap();
const configs = parseEgressConfigs(text, 'x');
const a = lap();
const plan = planEgress({ configs, status: undefined, selfAddrs: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'], hasIPv6NAT: true, resolve: () => [], podIPv4: '10.0.0.1', podIPv6: '' });
const b = lap();
await groups.apply(fw, plan.groups, plan.groupKeys);
const c = lap();
serializeEgressStatus(plan.status);
const d = lap();
console.log(JSON.stringify({ parse: a, plan: b, apply: c, status: d, total: a + b + c + d }));
