// Reading the TS_SERVE_CONFIG file (spec §7.3) and the facts derived from an ipn.ServeConfig:
// whether it has an HTTPS endpoint, which Tailscale Services it names, which domains need certs.
import { readTextFile } from '../../util/lean.js';
import { goField, isObject, type JSONObject } from '../goJSON.js';

export const NO_HTTPS = 'no-https';
export const CERT_DOMAIN_PLACEHOLDER = '${TS_CERT_DOMAIN}';

export type ServeConfig = JSONObject;

export type ReadResult =
  | { kind: 'missing' }
  | { kind: 'empty' }
  | { kind: 'config'; config: ServeConfig };

/** Parses the file text after `${TS_CERT_DOMAIN}` substitution. `null` decodes to an empty config, like Go. */
export function parseServeConfig(text: string, certDomain: string): ServeConfig | undefined {
  if (text.length === 0) return undefined;
  const v: unknown = JSON.parse(text.replaceAll(CERT_DOMAIN_PLACEHOLDER, certDomain));
  if (v === null) return {};
  if (!isObject(v)) throw new Error('serve config must be a JSON object');
  return v;
}

/** Reads the file; throws with the file name on unreadable files or bad JSON. */
export async function readServeConfig(file: string, certDomain: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  let cfg: ServeConfig | undefined;
  try {
    cfg = parseServeConfig(text, certDomain);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return cfg === undefined ? { kind: 'empty' } : { kind: 'config', config: cfg };
}

function objField(o: unknown, name: string): JSONObject | undefined {
  if (!isObject(o)) return undefined;
  const v = goField(o, name);
  return isObject(v) ? v : undefined;
}

/** Any top-level TCP handler with HTTPS: true (upstream hasHTTPSEndpoint). */
export function hasHTTPSEndpoint(cfg: ServeConfig | undefined): boolean {
  const tcp = objField(cfg, 'TCP');
  if (tcp === undefined) return false;
  return Object.values(tcp).some((h) => isObject(h) && goField(h, 'HTTPS') === true);
}

/** Names of the Tailscale Services in the config (`svc:...`), sorted. */
export function serviceNames(cfg: ServeConfig | null | undefined): string[] {
  const svcs = objField(cfg ?? undefined, 'Services');
  return svcs === undefined ? [] : Object.keys(svcs).sort();
}

/** Domains needing certs (spec §7.4): Web `host:443` entries and TCP TerminateTLS names of Services. */
export function certDomains(cfg: ServeConfig | undefined): string[] {
  const out = new Set<string>();
  const svcs = objField(cfg, 'Services');
  for (const svc of Object.values(svcs ?? {})) {
    for (const hp of Object.keys(objField(svc, 'Web') ?? {})) {
      const i = hp.lastIndexOf(':');
      if (i > 0 && hp.slice(i + 1) === '443') out.add(hp.slice(0, i).replace(/^\[|\]$/g, ''));
    }
    for (const h of Object.values(objField(svc, 'TCP') ?? {})) {
      const t = isObject(h) ? goField(h, 'TerminateTLS') : undefined;
      if (typeof t === 'string' && t !== '') out.add(t);
    }
  }
  return [...out].sort();
}

export const HTTPS_WITHOUT_CERTS_WARNING = `serve proxy: this node is configured as a proxy that exposes an HTTPS endpoint to tailnet,
\t\t(perhaps a Kubernetes operator Ingress proxy) but it is not able to issue TLS certs, so this will likely not work.
\t\tTo make it work, ensure that HTTPS is enabled for your tailnet, see https://tailscale.com/kb/1153/enabling-https for more details.`;
