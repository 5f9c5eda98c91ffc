// nft-syntax text for a batch of the map layout (nftPlan.ts) and parsing of `list table` JSON. Pure.
//
// Our rules live in our own tables (`ip containerboot`, `ip6 containerboot`), so iptables-nft can
// still read the conventional `nat` table.
import type { Family } from '../util/netip.js';
import { TUN, type ConcreteRule, type Hook } from './model.js';
import { elemKey, emptyNftSnapshot, type ElemWant, type MapName, type NftOp, type NftSnapshot } from './nftPlan.js';
import type { ClampDir } from './plan.js';

export const NFT_TABLE = 'containerboot';
export const CLAMP_CHAIN = 'ts-clamp';
const BASE: Record<Hook, string> = { pre: 'prerouting', post: 'postrouting' };
/** The previous layout's per-group base chains (removed when found). */
const LEGACY_RE = /^cb-[0-9a-f]{16}-(pre|post)$/;
const GROUP_RE = /^cbg-([0-9a-f]{16})-(pre|post)$/;
const OWNER_RE = /^([0-9a-f]{16}) (.*)$/s;
const JUMP_RE = /^containerboot\|group ([0-9a-f]{16})$/;

const fam = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');

export function nftGroupChain(tag: string, hook: Hook): string {
  return `cbg-${tag}-${hook}`;
}

export function nftMapName(m: MapName): string {
  return `cb-${m}`;
}

/** Comments of the lookup rules (how a listing tells the skeleton is complete). */
export const LOOKUP_ID: Record<MapName, string> = {
  dnat: 'containerboot|dnat map',
  portmap: 'containerboot|portmap map',
  snat: 'containerboot|snat map',
};

function q(s: string): string {
  // Identities never contain quotes (model.ts SAFE); keep it that way defensively.
  return `"${s.replace(/"/g, '')}"`;
}

function to(addr: string, family: Family, port?: number): string {
  if (port === undefined) return addr;
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** The body of a rule in a group's chain (after `add rule <fam> <table> <chain>`). */
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

function skeleton(f: Family, t: string): string[] {
  const a = addrType(f);
  return [
    `add map ${t} ${nftMapName('dnat')} { type ${a} : ${a}; }`,
    `add map ${t} ${nftMapName('portmap')} { type inet_proto . inet_service : ${a} . inet_service; }`,
    `add map ${t} ${nftMapName('snat')} { type ${a} : ${a}; }`,
    `add chain ${t} ${BASE.pre} { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ${t} ${BASE.post} { type nat hook postrouting priority srcnat; policy accept; }`,
  ];
}

function lookups(f: Family, hook: Hook): string[] {
  if (hook === 'post') return [`snat to ${fam(f)} daddr map @${nftMapName('snat')} comment ${q(LOOKUP_ID.snat)}`];
  return [
    `dnat to ${fam(f)} daddr map @${nftMapName('dnat')} comment ${q(LOOKUP_ID.dnat)}`,
    `iifname != "${TUN}*" dnat to meta l4proto . th dport map @${nftMapName('portmap')} comment ${q(LOOKUP_ID.portmap)}`,
  ];
}

/** One nft script for the whole batch (one transaction). Elements go in one statement per map. */
export function renderNft(ops: NftOp[]): string {
  const lines: string[] = [];
  const tables = new Set<Family>();
  let elemCmd = '';
  let elems: string[] = [];
  const flushElems = () => {
    if (elems.length) lines.push(`${elemCmd} { ${elems.join(', ')} }`);
    elems = [];
    elemCmd = '';
  };
  for (const o of ops) {
    const t = `${fam(o.family)} ${NFT_TABLE}`;
    if (o.op === 'elem-add' || o.op === 'elem-del') {
      const cmd = `${o.op === 'elem-add' ? 'add' : 'delete'} element ${t} ${nftMapName(o.map)}`;
      if (cmd !== elemCmd) { flushElems(); elemCmd = cmd; }
      elems.push(o.op === 'elem-add' ? `${o.key} comment ${q(o.comment)} : ${o.value}` : o.key);
      continue;
    }
    flushElems();
    if (!tables.has(o.family)) { tables.add(o.family); lines.push(`add table ${t}`); }
    switch (o.op) {
      case 'skeleton': lines.push(...skeleton(o.family, t)); break;
      case 'legacy-delete': lines.push(`delete chain ${t} ${o.chain}`); break;
      case 'drop-table': lines.push(`delete table ${t}`); break;
      case 'drop-upstream': lines.push(`delete rule ${fam(o.family)} ${o.rule.table} ${o.rule.chain} handle ${o.rule.handle}`); break;
      case 'clamp':
        lines.push(`add chain ${t} ${CLAMP_CHAIN} { type filter hook forward priority mangle; policy accept; }`);
        lines.push(`add rule ${t} ${CLAMP_CHAIN} ${clampBody(o.dir)}`);
        break;
      case 'base': {
        const c = BASE[o.hook];
        lines.push(`flush chain ${t} ${c}`);
        for (const l of lookups(o.family, o.hook)) lines.push(`add rule ${t} ${c} ${l}`);
        for (const tag of o.tags) lines.push(`add rule ${t} ${c} jump ${nftGroupChain(tag, o.hook)} comment ${q(`containerboot|group ${tag}`)}`);
        break;
      }
      case 'group-chain': {
        const c = nftGroupChain(o.tag, o.hook);
        if (o.exists) lines.push(`flush chain ${t} ${c}`);
        if (o.rules === null) { lines.push(`delete chain ${t} ${c}`); break; }
        if (!o.exists) lines.push(`add chain ${t} ${c}`);
        for (const r of o.rules) lines.push(`add rule ${t} ${c} ${nftRuleBody(r)}`);
        break;
      }
    }
  }
  flushElems();
  return `${lines.join('\n')}\n`;
}

type NftValue = string | number | { concat: NftValue[] } | { elem: { val: NftValue; comment?: string } };
interface NftJson {
  nftables?: Array<{
    chain?: { name: string };
    rule?: { chain: string; comment?: string };
    map?: { name: string; elem?: Array<[NftValue, NftValue]> };
  }>;
}

function valueText(v: NftValue): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if ('concat' in v) return v.concat.map(valueText).join(' . ');
  return valueText(v.elem.val);
}

const MAPS: Record<string, MapName> = { 'cb-dnat': 'dnat', 'cb-portmap': 'portmap', 'cb-snat': 'snat' };

/** Parses `list table <fam> containerboot` JSON output into the snapshot of one family. */
export function parseNftList(json: string, family: Family, into: NftSnapshot = emptyNftSnapshot()): NftSnapshot {
  const doc = JSON.parse(json) as NftJson;
  const maps = new Set<string>();
  const chains = new Set<string>();
  const lookupSeen = new Set<string>();
  for (const item of doc.nftables ?? []) {
    if (item.map) {
      const m = MAPS[item.map.name];
      if (m === undefined) continue;
      maps.add(m);
      for (const [k, v] of item.map.elem ?? []) {
        const comment = typeof k === 'object' && 'elem' in k ? (k.elem.comment ?? '') : '';
        const own = OWNER_RE.exec(comment);
        const key = elemKey(family, m, valueText(k));
        const e: ElemWant = { value: valueText(v), id: own ? own[2] : comment };
        into.elems.set(key, { ...e, tag: own ? own[1] : '' });
        if (own) {
          let g = into.groups.get(own[1]);
          if (!g) into.groups.set(own[1], (g = new Map()));
          g.set(key, e);
        }
      }
    } else if (item.chain) {
      const name = item.chain.name;
      chains.add(name);
      if (LEGACY_RE.test(name)) into.legacy.push(`${family} ${name}`);
      const g = GROUP_RE.exec(name);
      if (g) into.groupChains.set(`${family}:${g[2]}:${g[1]}`, into.groupChains.get(`${family}:${g[2]}:${g[1]}`) ?? []);
    } else if (item.rule) {
      const id = item.rule.comment;
      if (id === undefined) continue;
      const chain = item.rule.chain;
      const g = GROUP_RE.exec(chain);
      if (g) {
        const key = `${family}:${g[2]}:${g[1]}`;
        const ids = into.groupChains.get(key) ?? [];
        ids.push(id);
        into.groupChains.set(key, ids);
      } else if (chain === BASE.pre || chain === BASE.post) {
        const hook: Hook = chain === BASE.pre ? 'pre' : 'post';
        const j = JUMP_RE.exec(id);
        if (j) {
          const k = `${family}:${hook}`;
          into.jumps.set(k, [...(into.jumps.get(k) ?? []), j[1]]);
        }
        for (const [m, lid] of Object.entries(LOOKUP_ID)) if (id === lid && (m === 'snat') === (hook === 'post')) lookupSeen.add(m);
      } else if (chain === CLAMP_CHAIN) {
        for (const dir of ['in', 'out'] as const) if (id === nftClampId(dir)) into.clamp.add(`${family}:${dir}`);
      }
    }
  }
  const complete = (['dnat', 'portmap', 'snat'] as const).every((m) => maps.has(m) && lookupSeen.has(m))
    && chains.has(BASE.pre) && chains.has(BASE.post);
  if (complete) into.skeleton.add(family);
  return into;
}

export function nftListCmd(family: Family): string {
  return `list table ${fam(family)} ${NFT_TABLE}`;
}
