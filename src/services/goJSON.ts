// Helpers that read operator-written JSON the way Go's encoding/json decodes it into a struct:
// exact key first, else a case-insensitive match; unknown keys are ignored.

export type JSONObject = Record<string, unknown>;

export function isObject(v: unknown): v is JSONObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Value of struct field `name` in `obj` with Go's key matching; undefined when absent. */
export function goField(obj: JSONObject, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** A Go string field: absent or null ⇒ ''. Throws a message on other types. */
export function goString(obj: JSONObject, name: string): string {
  const v = goField(obj, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`field "${name}" must be a string`);
  return v;
}

/** JSON text with object keys sorted recursively: a cheap deep-equality key. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A JSON string literal as Go's encoding/json writes it (HTML-safe escaping). */
const PLAIN = /^[A-Za-z0-9 _.,:;/+=@%!#$()*?[\]{}|~^'-]*$/;

export function goQuote(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`; // nothing to escape (the common case: names, IPs)
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
