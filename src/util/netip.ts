// A small subset of Go's net/netip: parsing, canonical text, families, prefix containment.
// Canonical text must match Go's (RFC 5952 for IPv6) because it ends up in Secrets and rules.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Addr {
  readonly family: Family;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
  /** Canonical text, as Go's netip.Addr.String() prints it (zone not supported). */
  readonly text: string;
}

export interface Prefix {
  readonly addr: Addr;
  readonly bits: number;
  /** `addr/bits` with the address as given (not masked), like Go's netip.Prefix.String(). */
  readonly text: string;
}

export class AddrParseError extends Error {}

/** The four bytes of a dotted quad that isIPv4 accepted. */
function v4bytes(s: string): Uint8Array {
  const b = new Uint8Array(4);
  let i = 0, v = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 46) { b[i++] = v; v = 0; } else v = v * 10 + c - 48;
  }
  b[i] = v;
  return b;
}

function v6bytes(s: string): Uint8Array {
  let text = s;
  const out = new Uint8Array(16);
  // Trailing dotted quad (e.g. ::ffff:1.2.3.4).
  let tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail = v4bytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined ? (rest ? rest.split(':') : []) : [];
  const groups = rest !== undefined ? [...h, ...Array(8 - h.length - r.length).fill('0'), ...r] : h;
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

function v6text(b: Uint8Array): string {
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  // Longest run of >= 2 zero groups, first one wins (RFC 5952).
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function addrFromBytes(bytes: Uint8Array): Addr {
  if (bytes.length === 4) return { family: 4, bytes, text: Array.from(bytes).join('.') };
  if (bytes.length === 16) return { family: 6, bytes, text: v6text(bytes) };
  throw new AddrParseError(`invalid address length ${bytes.length}`);
}

// Literals already parsed (Addr values are never mutated, so they can be shared). An HA egress
// sync parses each target address in the planner and again when the firewall lowers its rules,
// and every sync repeats them (500 services: ~5 ms of a config change without the memo).
const MEMO_MAX = 4096;
const memo = new Map<string, Addr>();

/** Parses an IP literal like Go's netip.ParseAddr (no zones, no brackets). Throws AddrParseError. */
export function parseAddr(s: string): Addr {
  const known = memo.get(s);
  if (known !== undefined) return known;
  let a: Addr;
  // Go rejects leading zeros ("010.0.0.1"), and so does node's isIPv4: an accepted dotted quad
  // is already in Go's canonical form.
  if (isIPv4(s)) a = { family: 4, bytes: v4bytes(s), text: s };
  else if (isIPv6(s) && !s.includes('%')) a = addrFromBytes(v6bytes(s));
  else throw new AddrParseError(`ParseAddr(${JSON.stringify(s)}): unable to parse IP`);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(s, a);
  return a;
}

export function tryParseAddr(s: string): Addr | undefined {
  try { return parseAddr(s); } catch { return undefined; }
}

/** Parses `addr/bits` like Go's netip.ParsePrefix. */
export function parsePrefix(s: string): Prefix {
  const i = s.lastIndexOf('/');
  if (i < 0) throw new AddrParseError(`netip.ParsePrefix(${JSON.stringify(s)}): no '/'`);
  const addr = parseAddr(s.slice(0, i));
  const bitsText = s.slice(i + 1);
  if (!/^\d+$/.test(bitsText) || (bitsText.length > 1 && bitsText[0] === '0')) {
    throw new AddrParseError(`netip.ParsePrefix(${JSON.stringify(s)}): bad bits after slash: ${JSON.stringify(bitsText)}`);
  }
  const bits = Number(bitsText);
  const max = addr.family === 4 ? 32 : 128;
  if (bits > max) throw new AddrParseError(`netip.ParsePrefix(${JSON.stringify(s)}): prefix length out of range`);
  return { addr, bits, text: `${addr.text}/${bits}` };
}

export function tryParsePrefix(s: string): Prefix | undefined {
  try { return parsePrefix(s); } catch { return undefined; }
}

/** The single-address prefix of `a` (/32 or /128). */
export function singlePrefix(a: Addr): Prefix {
  const bits = a.family === 4 ? 32 : 128;
  return { addr: a, bits, text: `${a.text}/${bits}` };
}

export function isSingleIP(p: Prefix): boolean {
  return p.bits === (p.addr.family === 4 ? 32 : 128);
}

export function prefixContains(p: Prefix, a: Addr): boolean {
  if (p.addr.family !== a.family) return false;
  let bits = p.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p.addr.bytes[i] & mask) !== (a.bytes[i] & mask)) return false;
  }
  return true;
}

export function addrEqual(a: Addr, b: Addr): boolean {
  return a.family === b.family && a.text === b.text;
}

/** Go's netip.AddrPort.String form: `1.2.3.4:80` or `[fd00::1]:80`. */
export function joinHostPort(a: Addr, port: number): string {
  return a.family === 6 ? `[${a.text}]:${port}` : `${a.text}:${port}`;
}

/**
 * Parses `ip:port` like Go's netip.ParseAddrPort: IPv6 must be bracketed; port 0-65535.
 * Returns an error message (upstream's wording gist) or the parsed pair.
 */
export function parseAddrPort(s: string): { addr: Addr; port: number } {
  let host: string, portText: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') throw new AddrParseError(`invalid ip:port ${JSON.stringify(s)}`);
    host = s.slice(1, end);
    portText = s.slice(end + 2);
    if (!isIPv6(host)) throw new AddrParseError(`invalid ip:port ${JSON.stringify(s)}`);
  } else {
    const i = s.lastIndexOf(':');
    if (i < 0) throw new AddrParseError(`invalid ip:port ${JSON.stringify(s)}, no colon`);
    host = s.slice(0, i);
    portText = s.slice(i + 1);
    if (!isIPv4(host)) throw new AddrParseError(`invalid ip:port ${JSON.stringify(s)}`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new AddrParseError(`invalid port ${JSON.stringify(portText)} parsing ${JSON.stringify(s)}`);
  }
  return { addr: parseAddr(host), port: Number(portText) };
}
