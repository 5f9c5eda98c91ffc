// Parsing primitives with Go's exact semantics (spec §1.1).

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go strconv.ParseBool: undefined when the text is not one of the accepted spellings. */
export function parseGoBool(v: string): boolean | undefined {
  if (GO_TRUE.has(v)) return true;
  if (GO_FALSE.has(v)) return false;
  return undefined;
}

/** Lenient bool (def.Bool): empty or unparsable → default, never an error. */
export function lenientBool(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined || v === '') return dflt;
  return parseGoBool(v) ?? dflt;
}

/** Tri-state bool (TS_ACCEPT_DNS): unset, empty or unparsable → undefined. */
export function triStateBool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return parseGoBool(v);
}

/** String where empty means default (cmp.Or). */
export function orDefault(v: string | undefined, dflt: string): string {
  return v === undefined || v === '' ? dflt : v;
}

/** strings.Fields: split on runs of whitespace, no quoting. */
export function fields(v: string | undefined): string[] {
  return (v ?? '').split(/\s+/).filter((x) => x !== '');
}

const UNIT_NS: Record<string, number> = {
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

/**
 * Go time.ParseDuration, returning milliseconds. Throws an Error with Go's message
 * (`time: invalid duration "90"`, `time: missing unit in duration "90"`).
 */
export function parseGoDuration(s: string): number {
  const orig = s;
  const quoted = JSON.stringify(orig);
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) { neg = s[0] === '-'; s = s.slice(1); }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${quoted}`);
  let totalNs = 0;
  while (s !== '') {
    const num = /^(\d*)(\.(\d*))?/.exec(s)!;
    if (num[0] === '' || num[0] === '.' || (num[1] === '' && (num[3] ?? '') === '')) throw new Error(`time: invalid duration ${quoted}`);
    s = s.slice(num[0].length);
    const unit = /^[^\d.]+/.exec(s)?.[0] ?? '';
    if (unit === '') throw new Error(`time: missing unit in duration ${quoted}`);
    const mult = UNIT_NS[unit];
    if (mult === undefined) throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    totalNs += Number(`${num[1] || '0'}.${num[3] || '0'}`) * mult;
  }
  return (neg ? -totalNs : totalNs) / 1e6;
}

/** Go's Duration.String() for the values containerboot logs (e.g. 10m0s, 1s, 2m30s, 500ms). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1000) {
    const s = Number.isInteger(rest) ? `${rest}ms` : `${Number((rest * 1000).toFixed(3))}µs`;
    return neg ? `-${s}` : s;
  }
  const h = Math.floor(rest / 3600_000); rest -= h * 3600_000;
  const m = Math.floor(rest / 60_000); rest -= m * 60_000;
  const sec = Number((rest / 1000).toFixed(9)).toString();
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${sec}s`;
  return neg ? `-${out}` : out;
}
