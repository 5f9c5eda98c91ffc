// Leftovers of upstream's Go containerboot in iptables mode (netfilter.md §1.2): rules it put
// straight into nat PREROUTING / POSTROUTING and mangle FORWARD, which it never removes. When this
// image replaces upstream's in the same network namespace, a leftover that serves the same purpose
// as a rule we install (same destination, same port map, same clamp) is removed in the batch that
// installs ours. Only lines in upstream's exact iptables-save form are recognised. Pure.
import { addrFromBytes, tryParseAddr, type Family } from '../util/netip.js';
import { TUN, type GroupWant } from './model.js';

export type LeftoverChain = 'PREROUTING' | 'POSTROUTING' | 'FORWARD';

/** One upstream rule as iptables-save printed it (`args` is the line after `-A <chain> `). */
export interface Leftover {
  family: Family;
  table: 'nat' | 'mangle';
  chain: LeftoverChain;
  args: string;
  /** What it is for; a leftover is stale when a wanted rule has the same purpose. */
  purpose: string;
}

/** The canonical text of an IP literal of `family`, or undefined. */
function canon(s: string, family: Family): string | undefined {
  const a = tryParseAddr(s);
  return a && a.family === family && a.text === s ? a.text : undefined;
}

/** `addr/32` (IPv4) or `addr/128` (IPv6) in canonical form: the single address, else undefined. */
function host(s: string, family: Family): string | undefined {
  const i = s.lastIndexOf('/');
  if (i < 0 || s.slice(i + 1) !== String(family === 4 ? 32 : 128)) return undefined;
  return canon(s.slice(0, i), family);
}

/** Upstream's IPv6 SNAT quirk: `-d <dst masked to /32>/32`. */
export function v6Slash32(addr: string): string {
  const a = tryParseAddr(addr);
  if (!a || a.family !== 6) return addr;
  const b = new Uint8Array(16);
  b.set(a.bytes.subarray(0, 4));
  return addrFromBytes(b).text;
}

const NONTS = `! -i ${TUN}`;
const DNAT_PLAIN = /^-d (\S+) -j DNAT --to-destination (\S+)$/;
const DNAT_NTH = /^-d (\S+) -m statistic --mode nth --every ([1-9]\d*) --packet 0 -j DNAT --to-destination (\S+)$/;
const DNAT_SVC = /^-d (\S+) -m comment --comment "svc: ([^"\\]+), (\S+) -> (\S+)" -j DNAT --to-destination (\S+)$/;
const DNAT_NONTS = new RegExp(`^${NONTS} -j DNAT --to-destination (\\S+)$`);
const PORTMAP = new RegExp(`^${NONTS} -p (tcp|udp) -m \\1 --dport (\\d+) -m comment --comment "([^"\\\\]+):\\1:\\2 -> \\1:(\\d+)" -j DNAT --to-destination (\\S+):(\\d+)$`);
const SNAT = /^-d (\S+)\/32 -j SNAT --to-source (\S+)$/;
const CLAMP = new RegExp(`^-[oi] ${TUN} -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu$`);

function validPort(s: string): boolean {
  const n = Number(s);
  return String(n) === s && n >= 1 && n <= 65535;
}

/** The purpose of one nat PREROUTING line in upstream's form, or undefined. */
function prerouting(args: string, f: Family): string | undefined {
  let m = DNAT_PLAIN.exec(args) ?? DNAT_NTH.exec(args);
  if (m) {
    const d = host(m[1], f);
    return d && canon(m[m.length - 1], f) ? `${f}:pre:d=${d}` : undefined;
  }
  if ((m = DNAT_SVC.exec(args))) {
    const d = host(m[1], f);
    const ok = d && m[3] === d && canon(m[4], f) && m[5] === m[4];
    return ok ? `${f}:pre:d=${d}` : undefined;
  }
  if ((m = DNAT_NONTS.exec(args))) return canon(m[1], f) ? `${f}:pre:nonts` : undefined;
  if ((m = PORTMAP.exec(args))) {
    // Upstream wrote IPv6 targets unbracketed (`fd7a::7:80`), so the split at the last ':' is its own.
    const ok = validPort(m[2]) && validPort(m[4]) && m[6] === m[4] && canon(m[5], f);
    return ok ? `${f}:pre:pm=${m[1]}:${m[2]}` : undefined;
  }
  return undefined;
}

/** Recognises one iptables-save rule of upstream's; undefined for everything else. */
export function parseUpstreamLine(family: Family, table: string, chain: string, args: string): Leftover | undefined {
  let purpose: string | undefined;
  if (table === 'nat' && chain === 'PREROUTING') purpose = prerouting(args, family);
  else if (table === 'nat' && chain === 'POSTROUTING') {
    const m = SNAT.exec(args);
    const d = m && canon(m[1], family);
    // IPv4: the destination itself; IPv6: upstream's /32 of it (an address with 96 zero bits).
    if (m && d && canon(m[2], family) && (family === 4 || v6Slash32(d) === d)) purpose = `${family}:post:d=${d}`;
  } else if (table === 'mangle' && chain === 'FORWARD' && CLAMP.test(args)) purpose = `${family}:clamp`;
  if (purpose === undefined) return undefined;
  return { family, table: table as Leftover['table'], chain: chain as LeftoverChain, args, purpose };
}

/** The purposes the wanted rules serve, in the keys parseUpstreamLine gives. */
export function wantedPurposes(wants: GroupWant[]): Set<string> {
  const out = new Set<string>();
  for (const w of wants) {
    for (const f of w.clamp) out.add(`${f}:clamp`);
    for (const r of w.rules) {
      const s = r.spec;
      const f = r.family;
      if (s.t === 'snat') out.add(`${f}:post:d=${f === 6 ? v6Slash32(s.daddr) : s.daddr}`);
      else if (s.t === 'dnat-lb') out.add(`${f}:pre:d=${s.daddr}`);
      else if (s.notFromTailscale) out.add(s.proto ? `${f}:pre:pm=${s.proto}:${s.dport}` : `${f}:pre:nonts`);
      else if (s.daddr) out.add(`${f}:pre:d=${s.daddr}`);
    }
  }
  return out;
}

/** The leftovers that `wants` replace, in listing order (duplicates included: each is one rule). */
export function staleLeftovers<T extends { purpose: string }>(leftovers: readonly T[], wants: GroupWant[]): T[] {
  if (leftovers.length === 0) return [];
  const p = wantedPurposes(wants);
  return leftovers.filter((l) => p.has(l.purpose));
}
