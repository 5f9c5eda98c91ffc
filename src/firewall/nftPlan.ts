// The nftables layout and its diff: installed snapshot + desired groups → one batch. Pure.
//
// Per family, table `containerboot` holds one base chain per hook and three maps, so a new
// connection costs one hash lookup per map whatever the number of services:
//   prerouting:  dnat to <fam> daddr map @cb-dnat                                   (dnat, svc-dnat)
//                iifname != "tailscale0*" dnat to meta l4proto . th dport map @cb-portmap  (portmap)
//                jump cbg-<tag>-pre, per group with rules no map can hold (dnat-non-tailscale, dnat-lb)
//   postrouting: snat to <fam> daddr map @cb-snat                                   (snat)
// Map elements are diffed one by one; a group chain is rewritten whole (they hold a few rules).
import type { Family } from '../util/netip.js';
import type { ConcreteRule, GroupWant, Hook } from './model.js';
import type { ClampDir } from './plan.js';
import { staleLeftovers } from './upstreamIpt.js';
import type { NftLeftover } from './upstreamNft.js';

export type MapName = 'dnat' | 'portmap' | 'snat';

/** One map element wanted by a group: `key`/`value` are nft text, `id` the rule identity. */
export interface ElemWant {
  value: string;
  id: string;
}

/** An installed element: which group's tag its comment names ('' when not ours). */
export interface ElemHave extends ElemWant {
  tag: string;
}

export interface NftSnapshot {
  /** `${family}|${map}|${key}` → installed element. */
  elems: Map<string, ElemHave>;
  /** Map elements each group wants (as far as known: after a restart, only the recorded owner). */
  groups: Map<string, Map<string, ElemWant>>;
  /** `${family}:${hook}:${tag}` → rule ids of the group's chain. */
  groupChains: Map<string, string[]>;
  /** `${family}:${hook}` → tags jumped to from the base chain, in order. */
  jumps: Map<string, string[]>;
  /** Families whose table, maps, base chains and lookup rules are all in place. */
  skeleton: Set<Family>;
  /** Chains of the previous layout (`cb-<tag>-pre|post` base chains), to delete: `${family} ${name}`. */
  legacy: string[];
  /** `${family}:${dir}` */
  clamp: Set<string>;
  /** Rules of upstream's Go containerboot in the conventional tables (upstreamNft.ts). */
  upstream: NftLeftover[];
}

export function emptyNftSnapshot(): NftSnapshot {
  return { elems: new Map(), groups: new Map(), groupChains: new Map(), jumps: new Map(), skeleton: new Set(), legacy: [], clamp: new Set(), upstream: [] };
}

export type NftOp =
  | { op: 'skeleton'; family: Family }
  | { op: 'legacy-delete'; family: Family; chain: string }
  | { op: 'elem-del'; family: Family; map: MapName; key: string }
  | { op: 'elem-add'; family: Family; map: MapName; key: string; value: string; comment: string }
  /** Create or rewrite (rules) or delete (rules = null) a group's chain. */
  | { op: 'group-chain'; family: Family; hook: Hook; tag: string; rules: ConcreteRule[] | null; exists: boolean }
  /** Rewrite a base chain: its lookup rules, then one jump per tag. */
  | { op: 'base'; family: Family; hook: Hook; tags: string[] }
  | { op: 'clamp'; family: Family; dir: ClampDir }
  /** Deletes the family's `containerboot` table with everything in it (teardown). */
  | { op: 'drop-table'; family: Family }
  /** Deletes one rule upstream's containerboot left (same purpose as one we install). */
  | { op: 'drop-upstream'; family: Family; rule: NftLeftover };

const FAMILIES: Family[] = [4, 6];
const HOOKS: Hook[] = ['pre', 'post'];
export const MAX_COMMENT = 128;

export function elemKey(family: Family, map: MapName, key: string): string {
  return `${family}|${map}|${key}`;
}

/** The family of an elemKey (its first field), without splitting the key. */
function elemKeyFamily(k: string): Family {
  return k.startsWith('4|') ? 4 : 6;
}

function splitElemKey(k: string): { family: Family; map: MapName; key: string } {
  const a = k.indexOf('|');
  const b = k.indexOf('|', a + 1);
  return { family: Number(k.slice(0, a)) as Family, map: k.slice(a + 1, b) as MapName, key: k.slice(b + 1) };
}

/** The element comment: the owner's tag (what a restart reads back), then the readable identity. */
export function elemComment(tag: string, id: string): string {
  return `${tag} ${id}`.slice(0, MAX_COMMENT);
}

const port = (addr: string, p: number) => `${addr} . ${p}`;

/** Where a rule goes: a map element, or (null) a rule in the group's own chain. */
export function mapEntry(r: ConcreteRule): { map: MapName; key: string; value: string } | null {
  const s = r.spec;
  if (s.t === 'snat') return { map: 'snat', key: s.daddr, value: s.to };
  if (s.t !== 'dnat') return null;
  if (s.daddr !== undefined && !s.notFromTailscale && s.proto === undefined && s.toPort === undefined) {
    return { map: 'dnat', key: s.daddr, value: s.to };
  }
  if (s.daddr === undefined && s.notFromTailscale && s.proto !== undefined && s.dport !== undefined && s.toPort !== undefined) {
    return { map: 'portmap', key: `${s.proto} . ${s.dport}`, value: port(s.to, s.toPort) };
  }
  return null;
}

/**
 * A group's map elements (within a group the first rule for a key wins, as in a chain) and the
 * rules of its own chains, in rule order, by [4 pre, 4 post, 6 pre, 6 post]; one pass over the rules.
 */
export function splitGroup(w: GroupWant): { elems: Map<string, ElemWant>; chains: ConcreteRule[][] } {
  const elems = new Map<string, ElemWant>();
  const chains: ConcreteRule[][] = [[], [], [], []];
  for (const r of w.rules) {
    const e = mapEntry(r);
    if (e === null) {
      chains[(r.family === 4 ? 0 : 2) + (r.hook === 'pre' ? 0 : 1)]!.push(r);
      continue;
    }
    const k = elemKey(r.family, e.map, e.key);
    if (!elems.has(k)) elems.set(k, { value: e.value, id: r.id });
  }
  return { elems, chains };
}

const MAP_ORDER: Record<MapName, number> = { dnat: 0, portmap: 1, snat: 2 };
function mapOrder(o: NftOp): number {
  return o.op === 'elem-add' || o.op === 'elem-del' ? o.family * 3 + MAP_ORDER[o.map] : 0;
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Computes the batch and the snapshot it leads to. Groups not in `wants` keep what they have.
 * A key two groups want with different values keeps the installed one while its owner wants it
 * (first come, first served, like the first of several base chains); otherwise the lowest tag wins.
 */
export function planNft(snap: NftSnapshot, wants: GroupWant[], families: readonly Family[]): { ops: NftOp[]; next: NftSnapshot } {
  const groups = new Map(snap.groups);
  const groupChains = new Map(snap.groupChains);
  const touched = new Set<string>();
  const chainOps: NftOp[] = [];
  const clampWanted = new Set<Family>();
  const used = new Set<Family>();

  for (const w of wants) {
    for (const f of w.clamp) { clampWanted.add(f); used.add(f); }
    for (const k of groups.get(w.tag)?.keys() ?? []) touched.add(k);
    const { elems, chains } = splitGroup(w);
    for (const k of elems.keys()) { touched.add(k); used.add(elemKeyFamily(k)); }
    if (elems.size) groups.set(w.tag, elems); else groups.delete(w.tag);
    // Most groups (HA egress services) are map elements only: with no chain wanted or installed,
    // there is nothing to compare.
    if (groupChains.size === 0 && chains.every((c) => c.length === 0)) continue;
    for (let fi = 0; fi < FAMILIES.length; fi++) {
      const family = FAMILIES[fi]!;
      for (let hi = 0; hi < HOOKS.length; hi++) {
        const hook = HOOKS[hi]!;
        const rules = chains[fi * 2 + hi]!;
        const key = `${family}:${hook}:${w.tag}`;
        const have = groupChains.get(key);
        if (rules.length) used.add(family);
        if (rules.length === 0) {
          if (have !== undefined) { chainOps.push({ op: 'group-chain', family, hook, tag: w.tag, rules: null, exists: true }); groupChains.delete(key); }
        } else if (!sameList(have, rules.map((r) => r.id))) {
          chainOps.push({ op: 'group-chain', family, hook, tag: w.tag, rules, exists: have !== undefined });
          groupChains.set(key, rules.map((r) => r.id));
        }
      }
    }
  }

  // Who wants each touched key, in tag order (a list only where several groups want it).
  type Cand = { tag: string; e: ElemWant };
  const wanters = new Map<string, Cand | Cand[]>();
  if (touched.size) {
    for (const tag of [...groups.keys()].sort()) {
      for (const [k, e] of groups.get(tag)!) {
        if (!touched.has(k)) continue;
        const l = wanters.get(k);
        if (l === undefined) wanters.set(k, { tag, e });
        else if (Array.isArray(l)) l.push({ tag, e });
        else wanters.set(k, [l, { tag, e }]);
      }
    }
  }

  const elems = new Map(snap.elems);
  const dels: NftOp[] = [];
  const adds: NftOp[] = [];
  for (const k of touched) {
    const have = elems.get(k);
    const w = wanters.get(k);
    const { family, map, key } = splitElemKey(k);
    let pick: Cand | undefined;
    if (w === undefined || !Array.isArray(w)) pick = w;
    else {
      pick = have ? w.find((c) => c.tag === have.tag && c.e.value === have.value) : undefined;
      if (!pick && have) pick = w.find((c) => c.e.value === have.value);
      pick ??= w[0];
    }
    if (pick === undefined) {
      if (have !== undefined && have.tag !== '') { dels.push({ op: 'elem-del', family, map, key }); elems.delete(k); }
      continue;
    }
    // Compared as written (cut at 128 characters), so a listing after a restart matches.
    const comment = elemComment(pick.tag, pick.e.id);
    if (have && have.value === pick.e.value && elemComment(have.tag, have.id) === comment) continue;
    if (have) dels.push({ op: 'elem-del', family, map, key });
    adds.push({ op: 'elem-add', family, map, key, value: pick.e.value, comment });
    elems.set(k, { tag: pick.tag, value: pick.e.value, id: pick.e.id });
  }

  const skeleton = new Set(snap.skeleton);
  const ops: NftOp[] = [];
  for (const family of FAMILIES) {
    if (!families.includes(family)) continue;
    if (used.has(family) && !skeleton.has(family)) { ops.push({ op: 'skeleton', family }); skeleton.add(family); }
  }
  for (const l of snap.legacy) {
    const [f, chain] = l.split(' ');
    ops.push({ op: 'legacy-delete', family: Number(f) as Family, chain });
  }
  ops.push(...chainOps.filter((o) => o.op === 'group-chain' && o.rules !== null));

  const jumps = new Map(snap.jumps);
  for (const family of FAMILIES) {
    if (!skeleton.has(family)) continue;
    for (const hook of HOOKS) {
      const tags = [...groupChains.keys()].filter((k) => k.startsWith(`${family}:${hook}:`)).map((k) => k.split(':')[2]).sort();
      const fresh = !snap.skeleton.has(family);
      if (fresh || !sameList(jumps.get(`${family}:${hook}`) ?? [], tags)) {
        ops.push({ op: 'base', family, hook, tags });
        jumps.set(`${family}:${hook}`, tags);
      }
    }
  }
  // Grouped by map, so each map's elements go in one statement.
  const byMap = (a: NftOp, b: NftOp) => mapOrder(a) - mapOrder(b);
  ops.push(...chainOps.filter((o) => o.op === 'group-chain' && o.rules === null), ...dels.sort(byMap), ...adds.sort(byMap));

  const clamp = new Set(snap.clamp);
  for (const family of FAMILIES) {
    if (!clampWanted.has(family)) continue;
    for (const dir of ['out', 'in'] as const) {
      if (!clamp.has(`${family}:${dir}`)) { ops.push({ op: 'clamp', family, dir }); clamp.add(`${family}:${dir}`); }
    }
  }
  const stale = staleLeftovers(snap.upstream, wants);
  for (const rule of stale) ops.push({ op: 'drop-upstream', family: rule.family, rule });
  const upstream = stale.length ? snap.upstream.filter((l) => !stale.includes(l)) : snap.upstream;
  const next: NftSnapshot = { elems, groups, groupChains, jumps, skeleton, legacy: [], clamp, upstream };
  return { ops, next };
}

/** Our tables, deleted (a clean exit): each family where the listing found anything of ours. */
export function planNftTeardown(snap: NftSnapshot, families: readonly Family[]): { ops: NftOp[]; next: NftSnapshot } {
  const has = (f: Family) => snap.skeleton.has(f) || snap.legacy.some((l) => l.startsWith(`${f} `))
    || [...snap.elems.keys(), ...snap.groupChains.keys(), ...snap.clamp].some((k) => k.startsWith(`${f}`));
  const ops: NftOp[] = families.filter(has).map((family) => ({ op: 'drop-table', family }));
  return { ops, next: ops.length ? { ...emptyNftSnapshot(), upstream: snap.upstream } : snap };
}
