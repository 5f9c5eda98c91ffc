// Contract between the proxies (which decide what rules they want) and the firewall engine
// (which lists what is installed once, diffs in memory and applies one batch).
import type { Family } from '../util/netip.js';

export type FirewallMode = 'nftables' | 'iptables' | 'fake';

/**
 * One desired rule, in terms of upstream's NetfilterRunner operations (netfilter.md §1.2).
 * Addresses are canonical IP literals (validated before they get here); `family` picks
 * the ip/ip6 table.
 */
export type ProxyRule =
  /** AddDNATRule: nat PREROUTING, traffic to `dst` is DNATed to `to`. */
  | { kind: 'dnat'; family: Family; dst: string; to: string }
  /** DNATNonTailscaleTraffic: traffic not arriving on tailscale0 is DNATed to `to`. */
  | { kind: 'dnat-non-tailscale'; family: Family; to: string }
  /** EnsureSNATForDst: nat POSTROUTING, traffic to `dst` is SNATed to `src`. */
  | { kind: 'snat'; family: Family; dst: string; src: string }
  /**
   * ClampMSSToPMTU: the mangle/forward pair for tailscale0 in this family. Shared, ensure-only.
   * `addr` (optional) is the address upstream passed, which only chose the family; the fake records it.
   */
  | { kind: 'clamp-mss'; family: Family; addr?: string }
  /** DNATWithLoadBalancer: traffic to `dst` spread over `backends` (first backend is the catch-all). */
  | { kind: 'dnat-lb'; family: Family; dst: string; backends: string[] }
  /** EnsurePortMapRuleForSvc: egress service port mapping. */
  | { kind: 'portmap'; family: Family; svc: string; proto: 'tcp' | 'udp'; matchPort: number; targetIP: string; targetPort: number }
  /** EnsureDNATRuleForSvc: ingress service VIP → cluster IP. */
  | { kind: 'svc-dnat'; family: Family; svc: string; vip: string; clusterIP: string };

export interface Firewall {
  readonly mode: FirewallMode;
  /** Whether IPv6 NAT can be used (upstream HasIPV6NAT). */
  hasIPv6NAT(): boolean;
  /**
   * Makes the installed rules of each named group equal to the given list (an empty list
   * removes the group's rules). Groups not named are left untouched. One listing, one batch:
   * either the whole batch applies or nothing changes (per address family in iptables mode).
   * In iptables mode a group's chain is rewritten as a whole when any of its rules changes, so keep
   * groups small (one per service or proxy); nftables diffs map elements one by one. Invalid rules reject with InvalidRuleError before anything is written.
   * `keys[g]`, when given, identifies the rules of `groups[g]` (equal keys, equal rules): a group
   * re-sent with the key it had is not validated again, and no key is derived from its rules.
   */
  apply(groups: Record<string, ProxyRule[]>, keys?: Record<string, string>): Promise<void>;
  /**
   * Removes every rule and chain this program installs (all groups, the clamp rules), in one batch.
   * For a clean exit: the next program in the same network namespace starts clean. Others' rules stay.
   */
  removeAll(): Promise<void>;
  close(): void;
}
