// Stateful driver of the singleton L3 proxies: called by the run loop for each processed netmap,
// it works out each proxy's desired rules (pure planners in rules.ts) and applies every changed
// group in one firewall batch. Also owns the DNS re-resolve timer of TS_EXPERIMENTAL_DEST_DNS_NAME.
import type { Firewall, ProxyRule } from '../firewall/types.js';
import { errText, log } from '../log.js';
import { enableForwarding } from '../proc/host.js';
import type { NetmapState } from '../netmap/types.js';
import { formatGoDuration } from '../settings/parse.js';
import type { Settings } from '../settings/types.js';
import { parseAddr } from '../util/netip.js';
import { resolveBackends, systemResolveDNS, type DNSResolver } from './resolveDNS.js';
import { resolveTailnetFQDN } from './resolveTailnetFQDN.js';
import {
  backendsChanged, backoffMs, clusterIngressRules, destIPRules, destIPWarning, dnsNameRules, DNS_PERIOD_MS, egressRules,
  fqdnEgressRules, goList, GROUP_CLUSTER_INGRESS, GROUP_DEST_DNS, GROUP_DEST_IP, GROUP_TAILNET_FQDN,
  GROUP_TAILNET_IP, SINGLETON_GROUPS,
} from './rules.js';

export interface SingletonProxiesOptions {
  settings: Settings;
  firewall: Firewall;
  resolveDNS?: DNSResolver;
  /** Called with a fatal error raised outside onNetmap (the DNS timer). Default: log it. */
  fail?: (err: Error) => void;
  /** Makes sure IP forwarding is on for the DNS-name proxy's families (default: the sysctl files under settings.root). */
  ensureForwarding?: (families: (4 | 6)[]) => Promise<void>;
}


/** Error message prefixes for batch failures, per group (upstream's wording). */
const APPLY_PREFIX: Record<string, string> = {
  [GROUP_DEST_IP]: 'installing ingress proxy rules',
  [GROUP_TAILNET_IP]: 'installing egress proxy rules',
  [GROUP_TAILNET_FQDN]: 'installing egress proxy rules',
  [GROUP_DEST_DNS]: 'error installing ingress proxy rules',
  [GROUP_CLUSTER_INGRESS]: "installing rules to forward traffic to node's tailnet IP",
};

export class SingletonProxies {
  private readonly s: Settings;
  private readonly fw: Firewall;
  private readonly resolver: DNSResolver;
  private readonly fail: (err: Error) => void;
  private readonly ensureForwarding: (families: (4 | 6)[]) => Promise<void>;
  /** Own addresses at the last completed processing (upstream's currentIPs). */
  private currentAddrs: string | undefined;
  private addrs: string[] = [];
  private fqdnHash: string | undefined;
  private backends: string[] = [];
  /** JSON of the rules last applied per group, so unchanged groups cause no batch. */
  private applied = new Map<string, string>();
  private firstApply = true;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(opts: SingletonProxiesOptions) {
    this.s = opts.settings;
    this.fw = opts.firewall;
    this.resolver = opts.resolveDNS ?? systemResolveDNS;
    this.fail = opts.fail ?? ((err) => log(errText(err)));
    this.ensureForwarding = opts.ensureForwarding ?? (async (fams) => enableForwarding(this.s.root, fams));
    // Upstream starts the re-resolve timer before the run loop with the full period.
    if (this.s.proxyTargetDNSName) this.schedule(DNS_PERIOD_MS);
  }

  async onNetmap(state: NetmapState): Promise<void> {
    const self = state.self;
    if (!self) return;
    const addrs = [...self.addresses];
    const key = addrs.join(',');
    const ipsChanged = key !== this.currentAddrs;
    const haveAddrs = addrs.length > 0;
    this.addrs = addrs;
    const want: Record<string, ProxyRule[]> = {};
    let fqdnHash: string | undefined;
    const s = this.s;

    if (s.tailnetTargetFQDN) {
      let prefixes: string[] | undefined;
      try {
        prefixes = resolveTailnetFQDN(state, s.tailnetTargetFQDN);
      } catch (err) {
        // Deliberate fix (upstream bug §10.2-1): log and keep running; the next netmap retries.
        log(errText(err));
      }
      if (prefixes) {
        const h = prefixes.join(',');
        if ((h !== this.fqdnHash || ipsChanged) && prefixes.length > 0) {
          const { rules, dests } = fqdnEgressRules(prefixes, addrs, this.fw.hasIPv6NAT());
          for (const d of dests) log(`Installing forwarding rules for destination ${d}`);
          want[GROUP_TAILNET_FQDN] = rules;
          fqdnHash = h;
        }
      }
    }

    if (s.proxyTargetIP && ipsChanged && haveAddrs) {
      log('Installing proxy rules');
      const warn = destIPWarning(s.proxyTargetIP, addrs);
      if (warn) log(warn);
      want[GROUP_DEST_IP] = destIPRules(s.proxyTargetIP, addrs);
    }

    if (s.proxyTargetDNSName && ipsChanged && haveAddrs) {
      let next: string[];
      try {
        next = await resolveBackends(this.resolver, s.proxyTargetDNSName);
      } catch (err) {
        log(`[unexpected] error resolving DNS name ${s.proxyTargetDNSName}: ${errText(err)}`);
        this.retryLater();
        // Upstream skips the rest of this netmap and retries on the next one (currentIPs not updated).
        await this.applyGroups(want, fqdnHash);
        return;
      }
      if (backendsChanged(this.backends, next)) {
        log(`installing ingress proxy rules for backends ${goList(next)}`);
        want[GROUP_DEST_DNS] = await this.dnsRules(next);
      } else {
        // Deliberate fix: the rules follow a change of own addresses even when the backends did not
        // change (upstream kept DNATing from the old address). Unchanged rules cause no write.
        want[GROUP_DEST_DNS] = dnsNameRules(next, addrs, this.fw.hasIPv6NAT()).rules;
      }
      this.backends = next;
      this.resolvedOK();
    }

    if (s.tailnetTargetIP && ipsChanged && haveAddrs) {
      log(`Installing forwarding rules for destination ${s.tailnetTargetIP}`);
      try {
        want[GROUP_TAILNET_IP] = egressRules(parseAddr(s.tailnetTargetIP), addrs);
      } catch (err) {
        throw new Error(`installing egress proxy rules: ${errText(err)}`);
      }
    }

    if (s.allowProxyingClusterTrafficViaIngress && s.serveConfigPath && ipsChanged && haveAddrs) {
      log(`installing rules to forward traffic for ${s.podIP} to node's tailnet IP`);
      want[GROUP_CLUSTER_INGRESS] = clusterIngressRules(s.podIP, addrs);
    }

    await this.applyGroups(want, fqdnHash);
    this.currentAddrs = key;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async dnsRules(backends: string[]): Promise<ProxyRule[]> {
    const fams = [...new Set(backends.map((b) => parseAddr(b).family))];
    try {
      await this.ensureForwarding(fams);
    } catch (err) {
      log(`[unexpected] failed to ensure IP forwarding: ${errText(err)}`);
    }
    const { rules, logs } = dnsNameRules(backends, this.addrs, this.fw.hasIPv6NAT());
    for (const l of logs) log(l);
    return rules;
  }

  /** One batch for every group whose desired rules changed; `prefix` overrides the error prefix. */
  private async applyGroups(want: Record<string, ProxyRule[]>, fqdnHash?: string, prefix?: string): Promise<void> {
    const batch: Record<string, ProxyRule[]> = {};
    for (const [g, rules] of Object.entries(want)) {
      if (this.applied.get(g) !== JSON.stringify(rules)) batch[g] = rules;
    }
    if (this.firstApply && Object.keys(batch).length > 0) {
      // Rules of proxies no longer configured, left by an earlier run in this netns, are removed.
      for (const g of SINGLETON_GROUPS) if (!(g in want)) batch[g] = [];
    }
    if (Object.keys(batch).length > 0) {
      try {
        await this.fw.apply(batch);
      } catch (err) {
        const g = Object.keys(want)[0] ?? '';
        throw new Error(`${prefix ?? APPLY_PREFIX[g] ?? 'installing proxy rules'}: ${errText(err)}`);
      }
      this.firstApply = false;
      for (const [g, rules] of Object.entries(batch)) this.applied.set(g, JSON.stringify(rules));
    }
    if (fqdnHash !== undefined) this.fqdnHash = fqdnHash;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { void this.onTimer(); }, ms);
  }

  private resolvedOK(): void {
    this.failures = 0;
    log(`reconfigureTimer: next DNS resolution attempt in ${formatGoDuration(DNS_PERIOD_MS)}`);
    this.schedule(DNS_PERIOD_MS);
  }

  private retryLater(): void {
    const d = backoffMs(this.failures);
    this.failures++;
    log(`reconfigureTimer: last DNS resolution attempt failed, next DNS resolution attempt in ${formatGoDuration(d)}`);
    this.schedule(d);
  }

  private async onTimer(): Promise<void> {
    this.timer = undefined;
    const name = this.s.proxyTargetDNSName;
    let next: string[];
    try {
      next = await resolveBackends(this.resolver, name);
    } catch (err) {
      if (this.closed) return;
      log(`[unexpected] error resolving DNS name ${name}: ${errText(err)}`);
      this.retryLater();
      return;
    }
    if (this.closed) return;
    try {
      if (backendsChanged(this.backends, next) && this.addrs.length > 0) {
        log(`Backend address change detected, installing proxy rules for backends ${goList(next)}`);
        const rules = await this.dnsRules(next);
        await this.applyGroups({ [GROUP_DEST_DNS]: rules }, undefined, `installing ingress proxy rules for DNS target ${name}`);
      }
      this.backends = next;
      this.resolvedOK();
    } catch (err) {
      this.fail(err as Error);
    }
  }
}
