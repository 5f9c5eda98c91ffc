// Egress services configuration as the operator mounts it (spec §7.1.1): the `egress-services`
// JSON file and the `hep-pings` count, both in TS_EGRESS_PROXIES_CONFIG_PATH.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { goField, goString, isObject } from '../goJSON.js';
import { tryParseAddr } from '../../util/netip.js';

export const EGRESS_CONFIG_FILE = 'egress-services';
export const HEP_PINGS_FILE = 'hep-pings';

export interface PortMap {
  /** As written in the config ('tcp'/'udp', any case); rules use the lower-case form. */
  protocol: string;
  matchPort: number;
  targetPort: number;
}

export interface TailnetTarget {
  ip: string;
  fqdn: string;
}

export interface EgressServiceConfig {
  healthCheckEndpoint: string;
  tailnetTarget: TailnetTarget;
  /** A set: duplicates removed, sorted (protocol, matchPort, targetPort). */
  ports: PortMap[];
}

/** Services by name; an empty map means "no services wanted". */
export type EgressConfigs = Map<string, EgressServiceConfig>;

/** A config file that cannot be used; the message names the file and, if known, the service. */
export class ConfigFileError extends Error {}

export function portKey(p: PortMap): string {
  return `${p.protocol}:${p.matchPort}:${p.targetPort}`;
}

export function comparePorts(a: PortMap, b: PortMap): number {
  return a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.matchPort - b.matchPort || a.targetPort - b.targetPort;
}

function parsePort(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new Error(`${what} ${JSON.stringify(v)} is not a port number (1-65535)`);
  }
  return v;
}

/** Parses one `ports` list (Go decodes it into a set). Also used for the stored status. */
export function parsePortList(v: unknown): PortMap[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error('"ports" must be a list');
  const seen = new Map<string, PortMap>();
  for (const item of v) {
    if (!isObject(item)) throw new Error('each entry of "ports" must be an object');
    const protocol = goString(item, 'protocol');
    if (!/^(tcp|udp)$/i.test(protocol)) throw new Error(`unsupported protocol ${JSON.stringify(protocol)} (want tcp or udp)`);
    const pm = { protocol, matchPort: parsePort(goField(item, 'matchPort'), 'matchPort'), targetPort: parsePort(goField(item, 'targetPort'), 'targetPort') };
    seen.set(portKey(pm), pm);
  }
  const out = [...seen.values()];
  // Two maps (a service's usual ports) need no general sort, which allocates a work array per call.
  if (out.length === 2) { if (comparePorts(out[0]!, out[1]!) > 0) out.reverse(); return out; }
  return out.length < 2 ? out : out.sort(comparePorts);
}

export function parseTailnetTarget(v: unknown): TailnetTarget {
  if (v === undefined || v === null) return { ip: '', fqdn: '' };
  if (!isObject(v)) throw new Error('"tailnetTarget" must be an object');
  return { ip: goString(v, 'ip'), fqdn: goString(v, 'fqdn') };
}

/** Parses the text of `egress-services`; throws ConfigFileError naming `file` and the service. */
export function parseEgressConfigs(text: string, file: string): EgressConfigs {
  const out: EgressConfigs = new Map();
  if (text.trim() === '') return out;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigFileError(`error parsing egress services config ${file}: ${(e as Error).message}`);
  }
  if (raw === null) return out;
  if (!isObject(raw)) throw new ConfigFileError(`error parsing egress services config ${file}: want a JSON object keyed by service name`);
  for (const [name, v] of Object.entries(raw)) {
    try {
      if (!isObject(v)) throw new Error('want a JSON object');
      const tailnetTarget = parseTailnetTarget(goField(v, 'tailnetTarget'));
      if (tailnetTarget.ip === '' && tailnetTarget.fqdn === '') {
        throw new Error('unexpected egress service config- neither tailnet target IP nor FQDN is set');
      }
      if (tailnetTarget.ip !== '' && tryParseAddr(tailnetTarget.ip) === undefined) {
        throw new Error(`error parsing tailnet target IP ${JSON.stringify(tailnetTarget.ip)}: not an IP address`);
      }
      out.set(name, { healthCheckEndpoint: goString(v, 'healthCheckEndpoint'), tailnetTarget, ports: parsePortList(goField(v, 'ports')) });
    } catch (e) {
      throw new ConfigFileError(`invalid egress services config ${file}: service "${name}": ${(e as Error).message}`);
    }
  }
  return out;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigFileError(`error reading ${file}: ${(e as Error).message}`);
  }
}

/** Path of the `egress-services` file in `dir`. */
export function egressConfigFile(dir: string): string {
  return path.join(dir, EGRESS_CONFIG_FILE);
}

/** Text of `<dir>/egress-services`, or undefined when it does not exist. */
export function readEgressConfigText(dir: string): Promise<string | undefined> {
  return readOptional(egressConfigFile(dir));
}

/** Reads `<dir>/egress-services`; missing or empty ⇒ no services. */
export async function readEgressConfigs(dir: string): Promise<EgressConfigs> {
  const text = await readEgressConfigText(dir);
  return text === undefined ? new Map() : parseEgressConfigs(text, egressConfigFile(dir));
}

/** Reads `<dir>/hep-pings`: missing/empty ⇒ 0; negative ⇒ logged and 0; not an integer ⇒ error. */
export async function readHEPPings(dir: string, log: (m: string) => void): Promise<number> {
  const file = path.join(dir, HEP_PINGS_FILE);
  const text = (await readOptional(file))?.trim() ?? '';
  if (text === '') return 0;
  if (!/^[+-]?\d+$/.test(text)) throw new ConfigFileError(`error parsing ${file}: ${JSON.stringify(text)} is not an integer`);
  const n = Number(text);
  if (n < 0) {
    log(`[unexpected] hep pings is negative: ${n}`);
    return 0;
  }
  return n;
}
