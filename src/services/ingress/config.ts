// HA ingress services (spec §7.2): the config file the operator mounts and the
// `ingress-config.json` status kept in the state Secret (Go field names and order).
import { readFile } from 'node:fs/promises';
import { goField, goQuote, isObject } from '../goJSON.js';
import { ConfigFileError } from '../egress/config.js';
import { tryParseAddr, type Family } from '../../util/netip.js';

export const INGRESS_STATUS_KEY = 'ingress-config.json';

export interface IngressMapping {
  tailscaleServiceIP: string;
  clusterIP: string;
}

export interface IngressServiceConfig {
  ipv4?: IngressMapping;
  ipv6?: IngressMapping;
}

export type IngressConfigs = Map<string, IngressServiceConfig>;

export interface IngressStatus {
  configs: IngressConfigs;
  podIPv4: string;
  podIPv6: string;
}

function parseMapping(v: unknown, fam: Family, what: string): IngressMapping | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new Error(`${what} must be an object`);
  const ip = (k: string): string => {
    const raw = goField(v, k);
    const a = typeof raw === 'string' ? tryParseAddr(raw) : undefined;
    if (a === undefined) throw new Error(`${what}.${k}: ${JSON.stringify(raw ?? '')} is not an IP address`);
    if (a.family !== fam) throw new Error(`${what}.${k}: ${a.text} is not an IPv${fam} address`);
    return a.text;
  };
  return { tailscaleServiceIP: ip('TailscaleServiceIP'), clusterIP: ip('ClusterIP') };
}

function parseConfigsObject(raw: unknown): IngressConfigs {
  const out: IngressConfigs = new Map();
  if (raw === undefined || raw === null) return out;
  if (!isObject(raw)) throw new Error('want a JSON object keyed by service name');
  for (const [name, v] of Object.entries(raw)) {
    try {
      if (!isObject(v)) throw new Error('want a JSON object');
      const cfg: IngressServiceConfig = {};
      const m4 = parseMapping(goField(v, 'IPv4Mapping'), 4, 'IPv4Mapping');
      const m6 = parseMapping(goField(v, 'IPv6Mapping'), 6, 'IPv6Mapping');
      if (m4) cfg.ipv4 = m4;
      if (m6) cfg.ipv6 = m6;
      out.set(name, cfg);
    } catch (e) {
      throw new Error(`service "${name}": ${(e as Error).message}`);
    }
  }
  return out;
}

/** Parses the config file text; missing/empty ⇒ no services. Errors name the file and service. */
export function parseIngressConfigs(text: string, file: string): IngressConfigs {
  if (text.trim() === '') return new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigFileError(`error parsing ingress services config ${file}: ${(e as Error).message}`);
  }
  try {
    return parseConfigsObject(raw);
  } catch (e) {
    throw new ConfigFileError(`invalid ingress services config ${file}: ${(e as Error).message}`);
  }
}

export async function readIngressConfigs(file: string): Promise<IngressConfigs> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new ConfigFileError(`error reading ${file}: ${(e as Error).message}`);
  }
  return parseIngressConfigs(text, file);
}

function mappingJSON(m: IngressMapping): string {
  return `{"TailscaleServiceIP":${goQuote(m.tailscaleServiceIP)},"ClusterIP":${goQuote(m.clusterIP)}}`;
}

export function serviceConfigJSON(c: IngressServiceConfig): string {
  const parts: string[] = [];
  if (c.ipv4) parts.push(`"IPv4Mapping":${mappingJSON(c.ipv4)}`);
  if (c.ipv6) parts.push(`"IPv6Mapping":${mappingJSON(c.ipv6)}`);
  return `{${parts.join(',')}}`;
}

/** Go's json.Marshal of the status: empty members omitted, service names sorted. */
export function serializeIngressStatus(st: IngressStatus): string {
  const parts: string[] = [];
  if (st.configs.size > 0) {
    const names = [...st.configs.keys()].sort();
    parts.push(`"configs":{${names.map((n) => `${goQuote(n)}:${serviceConfigJSON(st.configs.get(n)!)}`).join(',')}}`);
  }
  if (st.podIPv4 !== '') parts.push(`"podIPv4":${goQuote(st.podIPv4)}`);
  if (st.podIPv6 !== '') parts.push(`"podIPv6":${goQuote(st.podIPv6)}`);
  return `{${parts.join(',')}}`;
}

export function parseIngressStatus(text: string): IngressStatus {
  const raw: unknown = JSON.parse(text);
  if (!isObject(raw)) throw new Error('ingress status is not a JSON object');
  const s = (k: string): string => {
    const v = goField(raw, k);
    return typeof v === 'string' ? v : '';
  };
  return { configs: parseConfigsObject(goField(raw, 'configs')), podIPv4: s('podIPv4'), podIPv6: s('podIPv6') };
}
