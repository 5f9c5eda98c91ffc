// Pure planner for HA egress services (spec §7.1.3): configuration + own stored status +
// resolved targets → the desired firewall groups, upstream's add/delete diff and the new status.
import type { ProxyRule } from '../../firewall/types.js';
import type { Family } from '../../util/netip.js';
import { tryParseAddr, tryParsePrefix } from '../../util/netip.js';
import { portKey, type EgressConfigs, type EgressServiceConfig, type PortMap } from './config.js';
import { servicesJSON, type EgressServiceStatus, type EgressStatus } from './status.js';

export type PortMapRule = Extract<ProxyRule, { kind: 'portmap' }>;

/** Resolves an FQDN target to prefixes (`100.64.0.2/32`); throws when it cannot. */
export type TargetResolver = (fqdn: string) => string[];

/**
 * Each service owns one group: its port maps, the SNAT rules for its targets and the (shared,
 * ensure-only) MSS clamp. Services with a common target each carry an identical SNAT rule, which
 * is harmless and lets a service's removal take exactly its own rules with it; a moved target
 * rewrites only that service's chains.
 */
export function egressGroup(svc: string): string {
  return `egress-svc:${svc}`;
}

export interface EgressPlanInput {
  configs: EgressConfigs;
  /** This pod's stored status (callers drop a status written by other pod IPs), or undefined. */
  status: EgressStatus | undefined;
  /** Own tailnet addresses as prefixes; undefined when there is no valid self node yet. */
  selfAddrs: string[] | undefined;
  hasIPv6NAT: boolean;
  resolve: TargetResolver;
  podIPv4: string;
  podIPv6: string;
}

export interface EgressPlan {
  /** Full desired rules of every group this plan knows about (removed services map to []). */
  groups: Record<string, ProxyRule[]>;
  /** A cheap identity of each group's rules: equal keys mean equal rules. */
  groupKeys: Record<string, string>;
  status: EgressStatus;
  /** Whether the new status differs from the stored one (pod IPs ignored). */
  statusChanged: boolean;
  /** Unfiltered resolved prefixes per FQDN target ([] when resolution failed). */
  resolved: Map<string, string[]>;
  logs: string[];
}

function familyOf(ip: string): Family {
  return ip.includes(':') ? 6 : 4;
}

export function portMapRule(svc: string, targetIP: string, pm: PortMap): PortMapRule {
  return {
    kind: 'portmap', family: familyOf(targetIP), svc, proto: pm.protocol.toLowerCase() as 'tcp' | 'udp',
    matchPort: pm.matchPort, targetIP, targetPort: pm.targetPort,
  };
}

const noBackendsLog = (svc: string) => `tailnet target for egress service ${svc} does not have any backend addresses, deleting all rules`;

/** Upstream deletes (and logs) a recorded service's rules when its target has no addresses left. */
function lostAllBackends(targetIPs: string[], recorded: EgressServiceStatus | undefined): boolean {
  return recorded !== undefined && targetIPs.length === 0;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Parsed resolver prefixes, remembered across syncs (a netmap repeats the same few thousand).
const prefixCache = new Map<string, { text: string; family: Family } | null>();
function prefixAddr(p: string): { text: string; family: Family } | null {
  let r = prefixCache.get(p);
  if (r === undefined) {
    const pr = tryParsePrefix(p);
    r = pr === undefined ? null : { text: pr.addr.text, family: pr.addr.family };
    if (prefixCache.size > 20_000) prefixCache.clear();
    prefixCache.set(p, r);
  }
  return r;
}

function cross(svc: string, ips: string[], ports: PortMap[]): PortMapRule[] {
  const out: PortMapRule[] = [];
  for (const ip of ips) for (const pm of ports) out.push(portMapRule(svc, ip, pm));
  return out;
}

/**
 * Upstream's per-service rule diff (updatesForSvc): what to add and delete given the current
 * target IPs and the recorded status. Order: target IP order, then port order.
 */
export function portMapUpdates(svc: string, cfg: EgressServiceConfig, targetIPs: string[], recorded: EgressServiceStatus | undefined, logs: string[] = []): { add: PortMapRule[]; del: PortMapRule[] } {
  if (recorded === undefined) return { add: cross(svc, targetIPs, cfg.ports), del: [] };
  if (targetIPs.length > 0 && sameList(targetIPs, recorded.tailnetTargetIPs) && sameList(cfg.ports.map(portKey), recorded.ports.map(portKey))) {
    return { add: [], del: [] };
  }
  if (lostAllBackends(targetIPs, recorded)) {
    logs.push(noBackendsLog(svc));
    return { add: [], del: cross(svc, recorded.tailnetTargetIPs, recorded.ports) };
  }
  const add: PortMapRule[] = [];
  const del: PortMapRule[] = [];
  const wanted = new Set(targetIPs);
  const had = new Set(recorded.tailnetTargetIPs);
  for (const ip of recorded.tailnetTargetIPs) if (!wanted.has(ip)) del.push(...cross(svc, [ip], recorded.ports));
  const cfgPorts = new Set(cfg.ports.map(portKey));
  const recPorts = new Set(recorded.ports.map(portKey));
  for (const ip of targetIPs) {
    if (!had.has(ip)) {
      add.push(...cross(svc, [ip], cfg.ports));
      continue;
    }
    for (const pm of recorded.ports) if (!cfgPorts.has(portKey(pm))) del.push(portMapRule(svc, ip, pm));
    for (const pm of cfg.ports) if (!recPorts.has(portKey(pm))) add.push(portMapRule(svc, ip, pm));
  }
  return { add, del };
}

/** Target IPs of one service, with upstream's log lines; `resolved` collects FQDN results. */
function targetIPsFor(cfg: EgressServiceConfig, inp: EgressPlanInput, resolved: Map<string, string[]>, logs: string[]): string[] {
  const t = cfg.tailnetTarget;
  if (t.ip !== '') {
    const a = tryParseAddr(t.ip)!; // validated by the config reader
    if (a.family === 6 && !inp.hasIPv6NAT) {
      logs.push('tailnet target is an IPv6 address, but this host does not support IPv6 in the chosen firewall mode. This will probably not work.');
      return [];
    }
    return [a.text];
  }
  if (inp.selfAddrs === undefined) {
    logs.push(`netmap state is not available, unable to determine backend addresses for ${t.fqdn}`);
    return [];
  }
  let prefixes: string[];
  try {
    prefixes = inp.resolve(t.fqdn);
  } catch (e) {
    logs.push(`error fetching backend addresses for "${t.fqdn}": ${(e as Error).message}`);
    resolved.set(t.fqdn, []);
    return [];
  }
  resolved.set(t.fqdn, prefixes);
  const out: string[] = [];
  for (const p of prefixes) {
    const a = prefixAddr(p);
    if (a === null) continue;
    if (a.family === 6 && !inp.hasIPv6NAT) continue;
    if (!out.includes(a.text)) out.push(a.text);
  }
  return out;
}

/** First own address of each family (the SNAT source for targets of that family). */
export function ownAddrByFamily(selfAddrs: string[] | undefined): Partial<Record<Family, string>> {
  const out: Partial<Record<Family, string>> = {};
  for (const p of selfAddrs ?? []) {
    const pr = tryParsePrefix(p);
    if (pr !== undefined && out[pr.addr.family] === undefined) out[pr.addr.family] = pr.addr.text;
  }
  return out;
}

/**
 * Upstream's incremental view of a plan's change (its add and delete lists, in its order), for
 * parity tests: the planner itself needs only each group's full rules.
 */
export function upstreamEgressDiff(inp: EgressPlanInput): { add: PortMapRule[]; del: PortMapRule[] } {
  const add: PortMapRule[] = [];
  const del: PortMapRule[] = [];
  const recorded = inp.status?.services ?? null;
  for (const [svc, st] of recorded ?? []) if (!inp.configs.has(svc)) del.push(...cross(svc, st.tailnetTargetIPs, st.ports));
  for (const [svc, cfg] of inp.configs) {
    const upd = portMapUpdates(svc, cfg, targetIPsFor(cfg, inp, new Map(), []), recorded?.get(svc));
    add.push(...upd.add);
    del.push(...upd.del);
  }
  return { add, del };
}

export function planEgress(inp: EgressPlanInput): EgressPlan {
  const logs: string[] = [];
  const groups: Record<string, ProxyRule[]> = {};
  const groupKeys: Record<string, string> = {};
  const resolved = new Map<string, string[]>();
  const recorded = inp.status?.services ?? null;

  // Services that are recorded but no longer configured: all their rules go.
  for (const [svc] of recorded ?? []) {
    if (inp.configs.has(svc)) continue;
    logs.push(`service ${svc} is no longer required, deleting`);
    groups[egressGroup(svc)] = [];
    groupKeys[egressGroup(svc)] = '';
  }

  let services: Map<string, EgressServiceStatus> | null = null;
  const own = ownAddrByFamily(inp.selfAddrs);
  if (inp.configs.size > 0) {
    services = new Map();
    for (const [svc, cfg] of inp.configs) {
      const ips = targetIPsFor(cfg, inp, resolved, logs);
      // The one log line of upstream's per-service diff (portMapUpdates).
      if (lostAllBackends(ips, recorded?.get(svc))) logs.push(noBackendsLog(svc));
      const rules: ProxyRule[] = cross(svc, ips, cfg.ports);
      // Return traffic from the target must come back to this node: SNAT to our own address.
      const families = new Set<Family>();
      for (const ip of ips) {
        const fam = familyOf(ip);
        const src = own[fam];
        if (src === undefined) {
          logs.push(`no valid local IP: invalid IP (no IPv${fam} tailnet address to SNAT traffic for egress service ${svc} target ${ip})`);
          continue;
        }
        rules.push({ kind: 'snat', family: fam, dst: ip, src });
        families.add(fam);
      }
      for (const fam of [...families].sort()) rules.push({ kind: 'clamp-mss', family: fam });
      groups[egressGroup(svc)] = rules;
      // The rules are a function of these inputs only.
      groupKeys[egressGroup(svc)] = rules.length === 0 ? '' : `${ips.join(',')}|${cfg.ports.map(portKey).join(',')}|${own[4] ?? ''}|${own[6] ?? ''}`;
      services.set(svc, { ports: cfg.ports, tailnetTargetIPs: ips, tailnetTarget: cfg.tailnetTarget });
    }
  }

  const status: EgressStatus = { podIPv4: inp.podIPv4, podIPv6: inp.podIPv6, services };
  const before = inp.status === undefined ? undefined : servicesJSON(inp.status.services);
  // An absent status and an empty one are the same "nothing" (no write needed).
  const emptyNow = services === null;
  const statusChanged = before === undefined ? !emptyNow : before !== servicesJSON(services) && !(emptyNow && (inp.status?.services?.size ?? 0) === 0);
  return { groups, groupKeys, status, statusChanged, resolved, logs };
}
