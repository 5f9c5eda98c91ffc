// Runs the firewall's pure hot path once on sample rules during the login wait: the proxies'
// rule planners, lowering, the diff, and both renderers (iptables-restore text and nft script).
// Loaded only for L3 proxies (dynamic import from main.ts), so other configurations never pay for
// it. Touches no kernel state and logs nothing.
import { lowerGroup } from '../firewall/model.js';
import { emptySnapshot, plan, afterOps } from '../firewall/plan.js';
import { renderRestore } from '../firewall/iptablesText.js';
import { renderNft } from '../firewall/nftText.js';
import { emptyNftSnapshot, planNft } from '../firewall/nftPlan.js';
import { destIPRules, egressRules, GROUP_DEST_IP, GROUP_TAILNET_IP, SINGLETON_GROUPS } from '../proxies/rules.js';
import { parseAddr } from '../util/netip.js';

const OWN = ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'];

/** Returns the number of operations the sample batch planned (> 0; tests check it ran). */
export function warmFirewallPaths(): number {
  const groups = {
    [GROUP_DEST_IP]: destIPRules('10.0.0.1', OWN),
    [GROUP_TAILNET_IP]: egressRules(parseAddr('100.64.0.2'), OWN),
  };
  const wants = Object.entries(groups).map(([g, rules]) => lowerGroup(g, rules));
  for (const g of SINGLETON_GROUPS) if (!(g in groups)) wants.push(lowerGroup(g, []));
  const ops = plan(emptySnapshot(), wants);
  renderRestore(ops, 4);
  plan(afterOps(emptySnapshot(), ops), wants);
  const nft = planNft(emptyNftSnapshot(), wants, [4, 6]);
  renderNft(nft.ops);
  planNft(nft.next, wants, [4, 6]);
  return ops.length + nft.ops.length;
}
