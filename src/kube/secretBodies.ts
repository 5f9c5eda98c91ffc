// Pure builders for the request bodies and paths containerboot sends (spec §4.2, §4.3).

export const FIELD_MANAGER = 'tailscale-container';
export const STRATEGIC_MERGE = 'application/strategic-merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

export function secretPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
}

export const SSAR_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

export function b64(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

/** Secret `data` as received (base64) → decoded UTF-8 strings. */
export function decodeData(data: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v ?? '', 'base64').toString('utf8');
  return out;
}

/**
 * Strategic-merge body: a whole Secret object whose `data` values are base64 and where null deletes
 * the key. The zero creationTimestamp is what Go's encoder emits for an unset time; kept so the
 * body is byte-identical with upstream's.
 */
export function strategicMergeBody(namespace: string, name: string, data: Record<string, string | null>): unknown {
  // Go's encoder writes map keys sorted; do the same so bodies compare byte for byte.
  const encoded: Record<string, string | null> = {};
  for (const k of Object.keys(data).sort()) {
    const v = data[k];
    encoded[k] = v === null || v === undefined ? null : b64(v);
  }
  return { metadata: { name, namespace, creationTimestamp: '0001-01-01T00:00:00Z' }, data: encoded };
}

export interface JSONPatchOp {
  op: 'remove' | 'replace' | 'add';
  path: string;
  value?: string;
}

/** JSON pointer to a data key (RFC 6901 escaping; Secret keys cannot hold '/', but be exact). */
export function dataPointer(key: string): string {
  return `/data/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

export function removeKeyPatch(key: string): JSONPatchOp[] {
  return [{ op: 'remove', path: dataPointer(key) }];
}

export function replaceKeyPatch(key: string, value: string): JSONPatchOp[] {
  return [{ op: 'replace', path: dataPointer(key), value: b64(value) }];
}

export function ssarBody(namespace: string, resource: string, verb: string, name: string): unknown {
  const attrs: Record<string, string> = {};
  if (name !== '') attrs.name = name;
  attrs.namespace = namespace;
  attrs.resource = resource;
  attrs.verb = verb;
  return { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs } };
}

/** `["100.64.0.1","fd7a::1"]`: addresses without prefix length, no spaces (Go's json.Marshal). */
export function deviceIPsValue(ips: string[]): string {
  return JSON.stringify(ips.map((ip) => ip.replace(/\/\d+$/, '')));
}
