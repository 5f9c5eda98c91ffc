// nft-syntax text for a batch and parsing of `list table` JSON. Pure.
//
// Our rules live in our own tables (`ip containerboot`, `ip6 containerboot`), one base chain per
// group and hook, so iptables-nft can still read the conventional `nat` table and a group can be
// rewritten or dropped without knowing rule handles.
import type { Family } from '../util/netip.js';
import { TUN, type ConcreteRule, type Hook } from './model.js';
import { chainKey, emptySnapshot, type ClampDir, type Op, type Snapshot } from './plan.js';

export const NFT_TABLE = 'containerboot';
export const CLAMP_CHAIN = 'ts-clamp';
const CHAIN_RE = /^cb-([0-9a-f]{16})-(pre|post)$/;

const fam = (f: Family) => (f === 4 ? 'ip' : 'ip6');

export function nftChain(tag: string, hook: Hook): string {
  return `cb-${tag}-${hook}`;
}

function chainDef(hook: Hook): string {
  return hook === 'pre'
    ? '{ type nat hook prerouting priority dstnat; policy accept; }'
    : '{ type nat hook postrouting priority srcnat; policy accept; }';
}

function q(s: string): string {
  // Identities never contain quotes (model.ts SAFE); keep it that way defensively.
  return `"${s.replace(/"/g, '')}"`;
}

function to(addr: string, family: Family, port?: number): string {
  if (port === undefined) return addr;
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** The rule body (after `add rule <fam> <table> <chain>`). */
export function nftRuleBody(r: ConcreteRule): string {
  const s = r.spec;
  const d = (a: string) => `${fam(r.family)} daddr ${a}`;
  switch (s.t) {
    case 'dnat': {
      const m: string[] = [];
      if (s.daddr) m.push(d(s.daddr));
      // Deliberate fix (upstream PR #21228): iifname, not oifname, which is always empty in prerouting.
      if (s.notFromTailscale) m.push(`iifname != "${TUN}*"`);
      if (s.proto) m.push(`meta l4proto ${s.proto} th dport ${s.dport}`);
      m.push(`dnat to ${to(s.to, r.family, s.toPort)}`, `comment ${q(r.id)}`);
      return m.join(' ');
    }
    case 'snat':
      return `${d(s.daddr)} snat to ${s.to} comment ${q(r.id)}`;
    case 'dnat-lb': {
      if (s.to.length === 1) return `${d(s.daddr)} dnat to ${s.to[0]} comment ${q(r.id)}`;
      // Deliberate fix: real round robin in nftables too (upstream used only the first backend).
      const map = s.to.map((a, i) => `${i} : ${a}`).join(', ');
      return `${d(s.daddr)} dnat to numgen inc mod ${s.to.length} map { ${map} } comment ${q(r.id)}`;
    }
  }
}

export function nftClampId(dir: ClampDir): string {
  return `containerboot|clamp-mss ${dir}`;
}

function clampBody(dir: ClampDir): string {
  const k = dir === 'out' ? 'oifname' : 'iifname';
  return `${k} "${TUN}*" meta l4proto tcp tcp flags & syn != 0 tcp option maxseg size set rt mtu comment ${q(nftClampId(dir))}`;
}

/** One nft script for the whole batch (one transaction). */
export function renderNft(ops: Op[]): string {
  const lines: string[] = [];
  const tables = new Set<Family>();
  for (const o of ops) {
    const t = `${fam(o.family)} ${NFT_TABLE}`;
    if (!tables.has(o.family)) { tables.add(o.family); lines.push(`add table ${t}`); }
    if (o.op === 'clamp') {
      lines.push(`add chain ${t} ${CLAMP_CHAIN} { type filter hook forward priority mangle; policy accept; }`);
      lines.push(`add rule ${t} ${CLAMP_CHAIN} ${clampBody(o.dir)}`);
      continue;
    }
    const chain = nftChain(o.tag, o.hook);
    if (o.op === 'delete') { lines.push(`delete chain ${t} ${chain}`); continue; }
    if (o.op === 'create') lines.push(`add chain ${t} ${chain} ${chainDef(o.hook)}`);
    else lines.push(`flush chain ${t} ${chain}`);
    for (const r of o.rules) lines.push(`add rule ${t} ${chain} ${nftRuleBody(r)}`);
  }
  return `${lines.join('\n')}\n`;
}

interface NftJson {
  nftables?: Array<{ chain?: { name: string }; rule?: { chain: string; comment?: string } }>;
}

/** Parses `list table <fam> containerboot` JSON output into the snapshot of one family. */
export function parseNftList(json: string, family: Family, into: Snapshot = emptySnapshot()): Snapshot {
  const doc = JSON.parse(json) as NftJson;
  for (const item of doc.nftables ?? []) {
    if (item.chain) {
      const m = CHAIN_RE.exec(item.chain.name);
      if (m) into.chains.set(chainKey(family, m[2] as Hook, m[1]), []);
    } else if (item.rule) {
      const id = item.rule.comment;
      if (id === undefined) continue;
      const m = CHAIN_RE.exec(item.rule.chain);
      if (m) {
        const key = chainKey(family, m[2] as Hook, m[1]);
        const ids = into.chains.get(key) ?? [];
        ids.push(id);
        into.chains.set(key, ids);
      } else if (item.rule.chain === CLAMP_CHAIN) {
        for (const dir of ['in', 'out'] as const) if (id === nftClampId(dir)) into.clamp.add(`${family}:${dir}`);
      }
    }
  }
  return into;
}

export function nftListCmd(family: Family): string {
  return `list table ${fam(family)} ${NFT_TABLE}`;
}
