// Pure planner for HA ingress services (spec §7.2): config + stored status → the desired
// firewall groups, upstream's deletions/additions and the status to write (if any).
import type { ProxyRule } from '../../firewall/types.js';
import type { Family } from '../../util/netip.js';
import { serviceConfigJSON, type IngressConfigs, type IngressMapping, type IngressServiceConfig, type IngressStatus } from './config.js';

export type SvcDNATRule = Extract<ProxyRule, { kind: 'svc-dnat' }>;

/** Shared MSS-clamp rules of all ingress services. */
export const INGRESS_CLAMP_GROUP = 'ingress-svc-clamp';
export function ingressGroup(svc: string): string {
  return `ingress-svc:${svc}`;
}

export interface IngressPlan {
  groups: Record<string, ProxyRule[]>;
  /** Upstream's view: deletions are applied before additions. */
  del: SvcDNATRule[];
  add: SvcDNATRule[];
  /** New status JSON to write, or undefined when the stored one is still right. */
  status: IngressStatus | undefined;
  logs: string[];
}

function rulesOf(svc: string, c: IngressServiceConfig): SvcDNATRule[] {
  const out: SvcDNATRule[] = [];
  const one = (m: IngressMapping | undefined, family: Family): void => {
    if (m) out.push({ kind: 'svc-dnat', family, svc, vip: m.tailscaleServiceIP, clusterIP: m.clusterIP });
  };
  one(c.ipv4, 4);
  one(c.ipv6, 6);
  return out;
}

export function planIngress(configs: IngressConfigs, status: IngressStatus | undefined, podIPv4: string, podIPv6: string): IngressPlan {
  const logs: string[] = [];
  const groups: Record<string, ProxyRule[]> = {};
  const del: SvcDNATRule[] = [];
  const add: SvcDNATRule[] = [];
  // An absent status counts as current; one written for other pod IPs describes another pod.
  const current = status === undefined || (status.podIPv4 === podIPv4 && status.podIPv6 === podIPv6);
  const recorded = status !== undefined && current ? status.configs : new Map<string, IngressServiceConfig>();

  for (const [svc, rec] of recorded) {
    const now = configs.get(svc);
    if (now !== undefined && serviceConfigJSON(now) === serviceConfigJSON(rec)) continue;
    for (const r of rulesOf(svc, rec)) {
      logs.push(`deleting DNAT rule for Tailscale Service ${svc} with IP ${r.vip} to Kubernetes Service IP ${r.clusterIP}`);
      del.push(r);
    }
    if (now === undefined) groups[ingressGroup(svc)] = [];
  }
  const families = new Set<Family>();
  for (const [svc, c] of configs) {
    const rules = rulesOf(svc, c);
    groups[ingressGroup(svc)] = rules;
    for (const r of rules) families.add(r.family);
    const rec = recorded.get(svc);
    if (rec !== undefined && serviceConfigJSON(rec) === serviceConfigJSON(c)) continue;
    for (const r of rules) {
      logs.push(`adding DNAT rule for Tailscale Service ${svc} with IP ${r.vip} to Kubernetes Service IP ${r.clusterIP}`);
      add.push(r);
    }
  }
  groups[INGRESS_CLAMP_GROUP] = [...families].sort().map((family) => ({ kind: 'clamp-mss', family }));

  const same = current && sameConfigs(configs, status?.configs ?? new Map());
  return { groups, del, add, status: same ? undefined : { configs, podIPv4, podIPv6 }, logs };
}

function sameConfigs(a: IngressConfigs, b: IngressConfigs): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || serviceConfigJSON(v) !== serviceConfigJSON(w)) return false;
  }
  return true;
}
