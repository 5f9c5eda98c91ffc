// Runs HA egress services' whole sync path on a synthetic tailnet during the login wait: config
// parse, planner, status JSON, AppliedGroups, engine lowering, nft diff and script rendering, for
// "all added", "one target moved" and "all removed". A single pass would only compile the code;
// the first real sync (hundreds of services) would still start in the interpreter and tier up
// while it runs, so the sample is run a few rounds to get the hot functions to Maglev first.
// Each round uses other service names and addresses: the first real sync meets only names and
// addresses it has not seen, so the uncached paths (group tag hashing, address parsing) are the
// ones to warm; the caches keep a few hundred small entries from this.
// Loaded only when TS_EGRESS_PROXIES_CONFIG_PATH is set (dynamic import from main.ts), and run
// only when the config mounted at start already holds WARM_FROM_SERVICES or more: a small config
// syncs in ~10 ms cold, and the warmed code would cost it ~3.4 MiB of peak RSS (10 services:
// 70.0 against 66.6 MiB, docs/PERFORMANCE.md). The
// firewall is an nftables engine whose libnftables call is replaced by a no-op: it touches no
// kernel state, writes no Secret and logs nothing (the planner's log lines are dropped).
import { FirewallApplyError } from '../firewall/errors.js';
import { FirewallEngine } from '../firewall/engine.js';
import { NftablesBackend } from '../firewall/nftables.js';
import { emptyNetmap, type NetmapState } from '../netmap/types.js';
import { resolveTailnetFQDN } from '../proxies/resolveTailnetFQDN.js';
import { AppliedGroups } from '../services/appliedGroups.js';
import { parseEgressConfigs, readEgressConfigText } from '../services/egress/config.js';
import { planEgress } from '../services/egress/plan.js';
import { parseEgressStatus, serializeEgressStatus, type EgressStatus } from '../services/egress/status.js';
import { targetResolverFor } from '../services/egress/targets.js';
import { collectGarbage } from '../util/collect.js';

const SERVICES = 64;
const ROUNDS = 4;
const SELF = ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'];

function sampleConfig(n: number, r: number): string {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    o[`warm-${r}-${i}`] = {
      tailnetTarget: { fqdn: `warm-${r}-${i}.example.ts.net` },
      ports: [{ protocol: 'tcp', matchPort: 10000 + i, targetPort: 80 }, { protocol: 'udp', matchPort: 20000 + i, targetPort: 53 }],
    };
  }
  return JSON.stringify(o);
}

/** Peers warm-<r>-<i> with one IPv4 and one IPv6 address; `moved` gets other addresses. */
function sampleNetmap(n: number, r: number, moved: number): NetmapState {
  const s = emptyNetmap();
  s.self = { id: '1', stableID: 's1', name: 'self.example.ts.net.', key: 'k', addresses: SELF, allowedIPs: [] };
  for (let i = 0; i < n; i++) {
    const third = i === moved ? 200 + r : 1 + r;
    const a = [`100.64.${third}.${i + 1}/32`, `fd7a:115c:a1e0::${third.toString(16)}:${(i + 1).toString(16)}/128`];
    s.peersByID.set(String(100 + i), { id: String(100 + i), stableID: `p${i}`, name: `warm-${r}-${i}.example.ts.net.`, key: `k${i}`, addresses: a, allowedIPs: a });
  }
  return s;
}

/** Stands in for libnftables: nothing is listed (no table), every batch is accepted. */
export function noKernel(cmds: string): string {
  if (cmds.startsWith('list ')) throw new FirewallApplyError('No such file or directory', 'ENOENT');
  return '';
}

/** One round; returns the number of firewall batches it produced (tests check it did the work). */
async function round(r: number): Promise<number> {
  const fw = new FirewallEngine(new NftablesBackend([4, 6], noKernel), true);
  const applied = new AppliedGroups();
  const base = { selfAddrs: SELF, hasIPv6NAT: true, podIPv4: '10.0.0.1', podIPv6: '' };
  let status: EgressStatus | undefined;
  let text = '';
  const configs = parseEgressConfigs(sampleConfig(SERVICES, r), 'warm-up');
  for (const [moved, cfg] of [[-1, configs], [0, configs], [-1, parseEgressConfigs('{}', 'warm-up')]] as const) {
    const plan = planEgress({ ...base, configs: cfg, status, resolve: targetResolverFor(sampleNetmap(SERVICES, r, moved), resolveTailnetFQDN) });
    await applied.apply(fw, plan.groups, plan.groupKeys);
    // As the runner does: the planned status is kept, its JSON goes to the Secret.
    status = plan.status;
    text = serializeEgressStatus(plan.status);
  }
  parseEgressStatus(text); // the stored status, read at start-up
  fw.close();
  return fw.batches;
}

/** Configured services from which the first sync is worth warming. */
export const WARM_FROM_SERVICES = 100;

/**
 * Number of services in the config file under `dir` now (0 when missing, empty or unreadable:
 * a heuristic for the warm-up only; the runner reports real errors later).
 */
export async function configuredServices(dir: string): Promise<number> {
  try {
    const text = await readEgressConfigText(dir);
    const v: unknown = text === undefined ? null : JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).length : 0;
  } catch {
    return 0;
  }
}

/** Warms the egress sync when the config under `dir` is large enough to need it (see above). */
export async function warmEgressIfLarge(dir: string): Promise<number> {
  return (await configuredServices(dir)) >= WARM_FROM_SERVICES ? warmEgressPaths() : 0;
}

export async function warmEgressPaths(rounds = ROUNDS): Promise<number> {
  let batches = 0;
  for (let i = 0; i < rounds; i++) {
    batches += await round(i);
    // Each round's garbage is collected before the next, so the sample does not raise the
    // process's high-water mark above what a small configuration itself needs.
    collectGarbage();
  }
  return batches;
}
