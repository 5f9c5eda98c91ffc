// Tailnet FQDN resolution for egress targets (spec §5.3.1): peer name, then Tailscale Service
// extra records, then 4via6 names. Pure: the answer depends only on the netmap state.
import { allPeers, type NetmapState } from '../netmap/types.js';
import { addrFromBytes, parsePrefix, prefixContains, singlePrefix, tryParseAddr, tryParsePrefix } from '../util/netip.js';

const MAX_NAME = 253;
const MAX_LABEL = 63;

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

function validLabel(l: string): boolean {
  if (l.length === 0 || l.length > MAX_LABEL) return false;
  if (!isAlnum(l[0]) || !isAlnum(l[l.length - 1])) return false;
  return /^[A-Za-z0-9-]*$/.test(l);
}

/** Go's %q for the ASCII names we deal with. */
function q(s: string): string {
  return JSON.stringify(s);
}

/**
 * Normalizes a DNS name to its fully-qualified form with a trailing dot (like tailscale's
 * dnsname.ToFQDN). Throws with upstream's error texts.
 */
export function toFQDN(name: string): string {
  if (name === '' || name === '.') return '.';
  let s = name.endsWith('.') ? name.slice(0, -1) : name;
  if (s.length > MAX_NAME) throw new Error(`${q(s)} is too long to be a DNS name`);
  for (const label of s.split('.')) {
    if (!validLabel(label)) throw new Error(`${q(label)} is not a valid DNS label`);
  }
  s += '.';
  return s;
}

function sameName(a: string, b: string): boolean {
  const strip = (x: string) => (x.endsWith('.') ? x.slice(0, -1) : x).toLowerCase();
  return strip(a) === strip(b);
}

/** Go's strconv.ParseUint(s, 0, 32): base prefixes 0x/0o/0b, a bare leading 0 for octal, `_` separators. */
export function parseUint32Base0(s: string): number | undefined {
  let digits = s, base = 10;
  const lower = s.toLowerCase();
  if (lower.startsWith('0x')) { base = 16; digits = s.slice(2); }
  else if (lower.startsWith('0o')) { base = 8; digits = s.slice(2); }
  else if (lower.startsWith('0b')) { base = 2; digits = s.slice(2); }
  else if (s.length > 1 && s[0] === '0') { base = 8; digits = s.slice(1); }
  // Underscores may only separate digits (or follow a base prefix).
  if (digits.includes('_')) {
    if (/__|_$/.test(digits) || (digits.startsWith('_') && base === 10)) return undefined;
    digits = digits.replaceAll('_', '');
  }
  const alphabet = '0123456789abcdef'.slice(0, base);
  if (digits === '' || ![...digits.toLowerCase()].every((c) => alphabet.includes(c))) return undefined;
  const v = parseInt(digits, base);
  return v <= 0xffffffff ? v : undefined;
}

function domainOK(domain: string): boolean {
  if (domain === '') return true;
  const d = domain.toLowerCase();
  return ['ts.net', 'tailscale.net'].some((suf) => d === suf || d.endsWith(`.${suf}`));
}

/** The 4via6 address for `<a-b-c-d>-via-<site>[.<domain>]`, or undefined if the name is not one. */
export function parse4via6Name(fqdnNoDot: string): string | undefined {
  if (fqdnNoDot.length < 13 || !fqdnNoDot.includes('-via-')) return undefined;
  const dot = fqdnNoDot.indexOf('.');
  const first = dot < 0 ? fqdnNoDot : fqdnNoDot.slice(0, dot);
  const domain = dot < 0 ? '' : fqdnNoDot.slice(dot + 1);
  if (!domainOK(domain)) return undefined;
  const i = first.indexOf('-via-');
  if (i < 0) return undefined;
  const v4 = tryParseAddr(first.slice(0, i).replaceAll('-', '.'));
  if (!v4 || v4.family !== 4) return undefined;
  const site = parseUint32Base0(first.slice(i + 5));
  if (site === undefined) return undefined;
  const b = new Uint8Array(16);
  b.set([0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0x0b, 0x1a]);
  b[8] = (site >>> 24) & 0xff; b[9] = (site >>> 16) & 0xff; b[10] = (site >>> 8) & 0xff; b[11] = site & 0xff;
  b.set(v4.bytes, 12);
  return addrFromBytes(b).text;
}

/**
 * Resolves a tailnet FQDN to address prefixes (`100.64.0.2/32`) from the netmap: a peer with that
 * name, else a Tailscale Service DNS record served by peers, else a 4via6 name routed by a peer.
 */
export function resolveTailnetFQDN(state: NetmapState, fqdn: string): string[] {
  let full: string;
  try {
    full = toFQDN(fqdn);
  } catch (err) {
    throw new Error(`error parsing ${q(fqdn)} as FQDN: ${(err as Error).message}`);
  }
  const peers = allPeers(state);

  const peer = peers.find((p) => p.name.toLowerCase() === full.toLowerCase());
  if (peer) return [...peer.addresses];

  // Tailscale Services: a DNS record names the service VIP; every peer serving it lists the
  // VIP's single-IP prefix in AllowedIPs (one entry per serving peer, as upstream).
  const svc: string[] = [];
  for (const rec of state.extraRecords) {
    if (!sameName(rec.Name, full)) continue;
    const ip = tryParseAddr(rec.Value);
    if (!ip) continue;
    const pfx = singlePrefix(ip).text;
    for (const p of peers) {
      if (p.allowedIPs.some((a) => tryParsePrefix(a)?.text === pfx)) svc.push(pfx);
    }
  }
  if (svc.length > 0) return svc;

  const via = parse4via6Name(full.slice(0, -1));
  if (via !== undefined) {
    const addr = tryParseAddr(via)!;
    const routed = peers.some((p) => p.allowedIPs.some((a) => {
      const pf = tryParsePrefix(a);
      return pf !== undefined && prefixContains(pf, addr);
    }));
    if (routed) return [parsePrefix(`${via}/128`).text];
    throw new Error(`resolved 4via6 address ${via} for ${q(fqdn)} but no peer advertises a route containing it`);
  }
  throw new Error(`could not find Tailscale node, service or 4via6 address ${q(fqdn)}; it either does not exist, or not reachable because of ACLs`);
}
