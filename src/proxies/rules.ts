// Pure planners for the singleton L3 proxies (spec §5.2–§5.5): own addresses + targets → the
// desired rules of each proxy's group. Errors carry upstream's message texts.
import type { ProxyRule } from '../firewall/types.js';
import { isSingleIP, parseAddr, tryParsePrefix, type Addr, type Family } from '../util/netip.js';

export const GROUP_DEST_IP = 'proxy-dest-ip';
export const GROUP_DEST_DNS = 'proxy-dest-dns-name';
export const GROUP_TAILNET_IP = 'proxy-tailnet-target-ip';
export const GROUP_TAILNET_FQDN = 'proxy-tailnet-target-fqdn';
export const GROUP_CLUSTER_INGRESS = 'proxy-cluster-via-ingress';
export const SINGLETON_GROUPS = [GROUP_DEST_IP, GROUP_DEST_DNS, GROUP_TAILNET_IP, GROUP_TAILNET_FQDN, GROUP_CLUSTER_INGRESS];

export const ISSUE_12156_WARNING = 'Warning: proxy backend ClusterIP is an IPv6 address and the proxy has a IPv4 tailnet address. You might need to disable IPv4 address allocation for the proxy for forwarding to work. See https://github.com/tailscale/tailscale/issues/12156';

/** Go's `%v` of a slice: `[a b c]`. */
export function goList(xs: readonly string[]): string {
  return `[${xs.join(' ')}]`;
}

function singleAddrs(addrs: readonly string[]): Addr[] {
  const out: Addr[] = [];
  for (const a of addrs) {
    const p = tryParsePrefix(a);
    if (p && isSingleIP(p)) out.push(p.addr);
  }
  return out;
}

/** First single-IP own address of `family`, or undefined. */
export function firstOwn(addrs: readonly string[], family: Family): string | undefined {
  return singleAddrs(addrs).find((a) => a.family === family)?.text;
}

/** Last single-IP own address of `family` (what the DNS-name proxy uses), or undefined. */
export function lastOwn(addrs: readonly string[], family: Family): string | undefined {
  return singleAddrs(addrs).filter((a) => a.family === family).pop()?.text;
}

function noMatch(dst: string, addrs: readonly string[]): Error {
  return new Error(`no tailscale IP matching family of ${dst} found in ${goList(addrs)}`);
}

/** The issue-12156 warning, logged before the TS_DEST_IP rules are worked out (and before any error). */
export function destIPWarning(dstText: string, addrs: readonly string[]): string | undefined {
  return parseAddr(dstText).family === 6 && firstOwn(addrs, 4) !== undefined ? ISSUE_12156_WARNING : undefined;
}

/** TS_DEST_IP (§5.2): DNAT own tailnet IP → dst, plus MSS clamping. */
export function destIPRules(dstText: string, addrs: readonly string[]): ProxyRule[] {
  const dst = parseAddr(dstText);
  const own = firstOwn(addrs, dst.family);
  if (own === undefined) throw new Error(`installing ingress proxy rules: ${noMatch(dst.text, addrs).message}`);
  return [{ kind: 'dnat', family: dst.family, dst: own, to: dst.text }, { kind: 'clamp-mss', family: dst.family, addr: dst.text }];
}

/** Egress rule set for one tailnet destination (§5.3): DNAT non-tailnet traffic, SNAT, MSS clamp. */
export function egressRules(dst: Addr, addrs: readonly string[]): ProxyRule[] {
  const own = firstOwn(addrs, dst.family);
  if (own === undefined) throw noMatch(dst.text, addrs);
  return [
    { kind: 'dnat-non-tailscale', family: dst.family, to: dst.text },
    { kind: 'snat', family: dst.family, dst: dst.text, src: own },
    { kind: 'clamp-mss', family: dst.family, addr: dst.text },
  ];
}

/**
 * TS_TAILNET_TARGET_FQDN (§5.3): the egress rules of every resolved address usable here (IPv4, or
 * IPv6 with IPv6 NAT). Returns the addresses in install order for the log lines.
 */
export function fqdnEgressRules(prefixes: readonly string[], addrs: readonly string[], hasIPv6NAT: boolean): { rules: ProxyRule[]; dests: string[] } {
  const rules: ProxyRule[] = [];
  const dests: string[] = [];
  for (const p of prefixes) {
    const pf = tryParsePrefix(p);
    if (!pf) continue;
    const a = pf.addr;
    if (a.family === 6 && !hasIPv6NAT) continue;
    dests.push(a.text);
    try {
      // Upstream inserted each destination's DNAT at the top, so the last one wins: keep that order.
      rules.unshift(...egressRules(a, addrs));
    } catch (err) {
      throw new Error(`installing egress proxy rules for destination ${a.text}: ${(err as Error).message}`);
    }
  }
  if (dests.length === 0) {
    throw new Error(`no forwarding rules for egress addresses ${goList(prefixes)}, host supports IPv6: ${hasIPv6NAT}`);
  }
  return { rules, dests };
}

/** Cluster traffic via ingress (§5.5): DNAT POD_IP → own tailnet IP of that family. No clamp. */
export function clusterIngressRules(podIP: string, addrs: readonly string[]): ProxyRule[] {
  let pod: Addr;
  try {
    pod = parseAddr(podIP);
  } catch (err) {
    throw new Error(`installing rules to forward traffic to node's tailnet IP: ${(err as Error).message}`);
  }
  const own = firstOwn(addrs, pod.family);
  if (own === undefined) {
    throw new Error(`installing rules to forward traffic to node's tailnet IP: ${noMatch(pod.text, addrs).message}`);
  }
  return [{ kind: 'dnat', family: pod.family, dst: pod.text, to: own }];
}

/**
 * TS_EXPERIMENTAL_DEST_DNS_NAME install (§5.4): round robin from the own address of each family to
 * that family's backends. Deliberate fixes: IPv4 backends are not put in the IPv6 list, and IPv6
 * backends are installed (upstream never installed them).
 */
export function dnsNameRules(backends: readonly string[], addrs: readonly string[], hasIPv6NAT: boolean): { rules: ProxyRule[]; logs: string[] } {
  const v4 = backends.filter((b) => parseAddr(b).family === 4);
  const v6 = backends.filter((b) => parseAddr(b).family === 6);
  const own4 = lastOwn(addrs, 4);
  const own6 = lastOwn(addrs, 6);
  const rules: ProxyRule[] = [];
  const logs: string[] = [];
  if (v4.length) {
    if (own4 === undefined) {
      logs.push(`backend targets ${goList(v4)} contain at least one IPv4 address, but this node's Tailscale IPs do not contain a valid IPv4 address: ${goList(addrs)}`);
    } else {
      rules.push({ kind: 'dnat-lb', family: 4, dst: own4, backends: v4 }, { kind: 'clamp-mss', family: 4, addr: own4 });
    }
  }
  if (v6.length) {
    if (own6 === undefined) {
      logs.push(`backend targets ${goList(v6)} contain at least one IPv6 address, but this node's Tailscale IPs do not contain a valid IPv6 address: ${goList(addrs)}`);
    } else if (hasIPv6NAT) {
      rules.push({ kind: 'dnat-lb', family: 6, dst: own6, backends: v6 }, { kind: 'clamp-mss', family: 6, addr: own6 });
    }
  }
  return { rules, logs };
}

/** "Backends changed" as upstream: different length, or an old address missing from the new list. */
export function backendsChanged(prev: readonly string[], next: readonly string[]): boolean {
  return prev.length !== next.length || prev.some((p) => !next.includes(p));
}

/** Retry delay after the k-th consecutive failure before this one: 1 s, 2 s, 4 s … capped at 10 min. */
export function backoffMs(failuresBefore: number): number {
  return Math.min(2 ** Math.min(failuresBefore, 30) * 1000, DNS_PERIOD_MS);
}

export const DNS_PERIOD_MS = 10 * 60 * 1000;
