// The egress status kept in the state Secret under `egress-services` (spec §7.1.2). The JSON is
// byte-compatible with upstream: Go field order, sorted service names, no spaces.
import { goField, goQuote, isObject } from '../goJSON.js';
import { parsePortList, parseTailnetTarget, type PortMap, type TailnetTarget } from './config.js';

export const EGRESS_STATUS_KEY = 'egress-services';

export interface EgressServiceStatus {
  ports: PortMap[];
  /** Canonical IP literals, in resolution order. */
  tailnetTargetIPs: string[];
  tailnetTarget: TailnetTarget;
}

export interface EgressStatus {
  podIPv4: string;
  podIPv6: string;
  /** null = Go's nil map (`"services":null`). */
  services: Map<string, EgressServiceStatus> | null;
}

function portsJSON(ports: PortMap[]): string {
  return `[${ports.map((p) => `{"protocol":${goQuote(p.protocol)},"matchPort":${p.matchPort},"targetPort":${p.targetPort}}`).join(',')}]`;
}

function serviceJSON(s: EgressServiceStatus): string {
  const ips = s.tailnetTargetIPs.length === 0 ? 'null' : `[${s.tailnetTargetIPs.map(goQuote).join(',')}]`;
  return `{"ports":${portsJSON(s.ports)},"tailnetTargetIPs":${ips},"tailnetTarget":{"ip":${goQuote(s.tailnetTarget.ip)},"fqdn":${goQuote(s.tailnetTarget.fqdn)}}}`;
}

// Status maps are never mutated after they are built, so their JSON can be remembered.
const jsonCache = new WeakMap<Map<string, EgressServiceStatus>, string>();

/** The `services` member only: also the equality key for "status changed" (pod IPs ignored). */
export function servicesJSON(services: Map<string, EgressServiceStatus> | null): string {
  if (services === null) return 'null';
  let j = jsonCache.get(services);
  if (j === undefined) {
    const names = [...services.keys()].sort();
    j = `{${names.map((n) => `${goQuote(n)}:${serviceJSON(services.get(n)!)}`).join(',')}}`;
    jsonCache.set(services, j);
  }
  return j;
}

export function serializeEgressStatus(st: EgressStatus): string {
  const v6 = st.podIPv6 === '' ? '' : `,"podIPv6":${goQuote(st.podIPv6)}`;
  return `{"podIPv4":${goQuote(st.podIPv4)}${v6},"services":${servicesJSON(st.services)}}`;
}

/** Parses a stored status; throws on bad JSON or shape. */
export function parseEgressStatus(text: string): EgressStatus {
  const raw: unknown = JSON.parse(text);
  if (!isObject(raw)) throw new Error('egress status is not a JSON object');
  const str = (k: string): string => {
    const v = goField(raw, k);
    return typeof v === 'string' ? v : '';
  };
  const svcRaw = goField(raw, 'services');
  let services: Map<string, EgressServiceStatus> | null = null;
  if (isObject(svcRaw)) {
    services = new Map();
    for (const [name, v] of Object.entries(svcRaw)) {
      if (!isObject(v)) throw new Error(`egress status: service "${name}" is not an object`);
      const ips = goField(v, 'tailnetTargetIPs');
      services.set(name, {
        ports: parsePortList(goField(v, 'ports')),
        tailnetTargetIPs: Array.isArray(ips) ? ips.filter((x): x is string => typeof x === 'string') : [],
        tailnetTarget: parseTailnetTarget(goField(v, 'tailnetTarget')),
      });
    }
  }
  return { podIPv4: str('podIPv4'), podIPv6: str('podIPv6'), services };
}

/** A stored status counts only if it was written by a pod with this pod's IPs. */
export function isOwnStatus(st: EgressStatus, podIPv4: string, podIPv6: string): boolean {
  return st.podIPv4 === podIPv4 && st.podIPv6 === podIPv6;
}
