// Leftovers of upstream's Go containerboot in nftables mode (netfilter.md §1.2): rules it put in the
// conventional tables (`<fam> nat PREROUTING`, `<fam> filter ts-clamp`), which it never removes.
// Recognised only in the exact expression lists its runner writes, as `nft -j list table` shows
// them (checked against upstream's image: no counter, no comment; its raw userdata is not shown).
// Pure: JSON in, leftovers with their rule handles out.
import { tryParseAddr, type Family } from '../util/netip.js';
import { TUN } from './model.js';

export interface NftLeftover {
  family: Family;
  table: 'nat' | 'filter';
  chain: string;
  handle: number;
  /** Same keys as upstreamIpt.ts's purposes. */
  purpose: string;
}

type J = unknown;
interface RuleJson { table?: string; chain?: string; handle?: number; comment?: string; expr?: J[] }

const eq = (a: J, b: J) => JSON.stringify(a) === JSON.stringify(b);
const TUN_WILD = `${TUN}*`;

function addr(v: J, f: Family): string | undefined {
  if (typeof v !== 'string') return undefined;
  const a = tryParseAddr(v);
  return a && a.family === f && a.text === v ? v : undefined;
}

/** `dnat to <addr>` as the JSON of a plain DNAT statement (no port, no flags). */
function dnatTo(e: J, f: Family): string | undefined {
  if (!e || typeof e !== 'object' || !('dnat' in e)) return undefined;
  const d = (e as { dnat: Record<string, J> }).dnat;
  const keys = Object.keys(d).filter((k) => k !== 'family').sort();
  if (!eq(keys, ['addr']) || (d.family !== undefined && d.family !== (f === 4 ? 'ip' : 'ip6'))) return undefined;
  return addr(d.addr, f);
}

function purposeOf(r: RuleJson, f: Family): string | undefined {
  const x = r.expr ?? [];
  const proto = f === 4 ? 'ip' : 'ip6';
  if (r.table === 'nat' && r.chain === 'PREROUTING' && x.length === 2 && dnatTo(x[1], f)) {
    const m = (x[0] as { match?: { op?: J; left?: J; right?: J } }).match;
    if (!m) return undefined;
    // AddDNATRule: `ip daddr <a> dnat to <b>`.
    if (m.op === '==' && eq(m.left, { payload: { protocol: proto, field: 'daddr' } })) {
      const d = addr(m.right, f);
      return d && `${f}:pre:d=${d}`;
    }
    // DNATNonTailscaleTraffic (with upstream's oifname bug): `oifname != "tailscale0*" dnat to <b>`.
    if (m.op === '!=' && eq(m.left, { meta: { key: 'oifname' } }) && m.right === TUN_WILD) return `${f}:pre:nonts`;
    return undefined;
  }
  if (r.table === 'filter' && r.chain === 'ts-clamp' && x.length === 3) {
    const ok = ['oifname', 'iifname'].some((k) => eq(x[0], { match: { op: '==', left: { meta: { key: k } }, right: TUN_WILD } }))
      && eq(x[1], { match: { op: 'in', left: { payload: { protocol: 'tcp', field: 'flags' } }, right: 'syn' } })
      && eq(x[2], { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } });
    return ok ? `${f}:clamp` : undefined;
  }
  return undefined;
}

/** Upstream's rules in one `list table <fam> nat|filter` JSON listing. */
export function parseUpstreamNft(json: string, family: Family): NftLeftover[] {
  const doc = JSON.parse(json) as { nftables?: Array<{ rule?: RuleJson }> };
  const out: NftLeftover[] = [];
  for (const item of doc.nftables ?? []) {
    const r = item.rule;
    if (!r || r.comment !== undefined || typeof r.handle !== 'number') continue;
    const purpose = purposeOf(r, family);
    if (purpose) out.push({ family, table: r.table as NftLeftover['table'], chain: r.chain!, handle: r.handle, purpose });
  }
  return out;
}

/** The listings that can hold upstream's rules, per family. */
export function upstreamNftListCmds(family: Family): string[] {
  const fam = family === 4 ? 'ip' : 'ip6';
  return [`list table ${fam} nat`, `list table ${fam} filter`];
}
