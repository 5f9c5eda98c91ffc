// One-step mode: pick the tailscaled config file for our capability version from
// TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR (spec §8.1) and validate it like tailscaled would.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CAPABILITY_VERSION } from '../capver.js';
import { standardizeHuJSON } from './hujson.js';
import { jsonErrorText } from '../util/jsonError.js';

export class ConfigDirError extends Error {}

/** Parses a directory entry name: `cap-N.hujson` → N (Sscanf-like: trailing text tolerated), `tailscaled` → 0. */
export function capVersionOfFileName(name: string): number | undefined {
  if (name === 'tailscaled') return 0;
  const m = /^cap-([+-]?\d+)\.hujson/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Returns the path of the config file to use. Deliberate fix: a file named `tailscaled` selects
 * itself (upstream would point at a missing cap-0.hujson).
 */
export function selectConfigFile(dir: string, capver = CAPABILITY_VERSION): { path: string; logs: string[] } {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new ConfigDirError(`error reading tailscaled config directory ${JSON.stringify(dir)}: ${(e as Error).message}`);
  }
  let best: { v: number; name: string } | undefined;
  for (const e of entries) {
    if (e.isDirectory()) continue;
    const v = capVersionOfFileName(e.name);
    if (v === undefined || v < 0 || v > capver) continue;
    if (!best || v > best.v) best = { v, name: e.name };
  }
  if (!best) throw new ConfigDirError(`no tailscaled config file found in ${JSON.stringify(dir)} for current capability version ${capver}`);
  const file = best.name === 'tailscaled' ? 'tailscaled' : `cap-${best.v}.hujson`;
  const p = path.join(dir, file);
  return { path: p, logs: [`Using tailscaled config file ${JSON.stringify(p)} to match current capability version ${capver}`] };
}

// Top-level fields of tailscaled's ipn.ConfigVAlpha; Go matches them case-insensitively.
const KNOWN_FIELDS = [
  'Version', 'Locked', 'ServerURL', 'AuthKey', 'Enabled', 'OperatorUser', 'Hostname', 'AcceptDNS',
  'AcceptRoutes', 'ExitNode', 'AllowLANWhileUsingExitNode', 'AdvertiseRoutes', 'DisableSNAT',
  'AdvertiseServices', 'AppConnector', 'NetfilterMode', 'NoStatefulFiltering', 'PostureChecking',
  'RunSSHServer', 'RunWebClient', 'ShieldsUp', 'AutoUpdate', 'ServeConfigTemp', 'StaticEndpoints',
  'RelayServerPort', 'RelayServerStaticEndpoints',
].map((f) => f.toLowerCase());

/** Loads and validates a config file like tailscaled's conffile.Load; returns the parsed object. */
export function loadConfigFile(p: string): Record<string, unknown> {
  const raw = readFileSync(p, 'utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(standardizeHuJSON(raw));
  } catch (e) {
    throw new Error(`error parsing config file ${p} HuJSON/JSON: ${jsonErrorText(e)}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`error parsing config file ${p}: json: cannot unmarshal ${Array.isArray(obj) ? 'array' : obj === null ? 'null' : typeof obj} into a config object`);
  const rec = obj as Record<string, unknown>;
  const version = Object.entries(rec).find(([k]) => k.toLowerCase() === 'version')?.[1];
  if (version === undefined || version === '') throw new Error(`error parsing config file ${p}: no "version" field defined`);
  if (version !== 'alpha0') throw new Error(`error parsing config file ${p}: unsupported "version" value ${JSON.stringify(version)}; want "alpha0" for now`);
  for (const k of Object.keys(rec)) {
    if (!KNOWN_FIELDS.includes(k.toLowerCase())) throw new Error(`error parsing config file ${p}: json: unknown field ${JSON.stringify(k)}`);
  }
  return rec;
}

/** The config file's AuthKey, verbatim (incl. a `file:` prefix); '' when unreadable or absent. */
export function readAuthKeyFromConfigFile(p: string): string {
  try {
    const rec = loadConfigFile(p);
    const v = Object.entries(rec).find(([k]) => k.toLowerCase() === 'authkey')?.[1];
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

/** Validation rules §1.5 #1–#3 for one-step mode. Returns an error message or undefined. */
export function validateConfigFile(p: string): string | undefined {
  const dir = path.dirname(p);
  try { statSync(dir); } catch (e) {
    return `error validating whether directory with tailscaled config file ${dir} exists: ${(e as Error).message}`;
  }
  try { statSync(p); } catch (e) {
    return `error validating whether tailscaled config directory ${JSON.stringify(dir)} contains tailscaled config for current capability version ${JSON.stringify(path.basename(p))}: ${(e as Error).message}. If this is a Tailscale Kubernetes operator proxy, please ensure that the version of the operator is not older than the version of the proxy`;
  }
  try { loadConfigFile(p); } catch (e) {
    return `error validating tailscaled configfile contents: ${(e as Error).message}`;
  }
  return undefined;
}
