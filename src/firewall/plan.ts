// The chain layout's diff (iptables and the fake): installed snapshot + desired groups → the
// operations of one batch. Pure.
//
// Layout: each group owns one chain per (family, hook) holding its rules in
// order; a group's chain is rewritten as a whole when its rule identities differ, and deleted when
// the group wants nothing there. The two MSS-clamp rules per family are shared and ensure-only.
import type { Family } from '../util/netip.js';
import type { ConcreteRule, GroupWant, Hook } from './model.js';
import { staleLeftovers, type Leftover } from './upstreamIpt.js';

export type ClampDir = 'in' | 'out';

/** What is installed, as identities: chain key → ordered distinct rule ids, plus clamp rules present. */
export interface Snapshot {
  chains: Map<string, string[]>;
  /** `${family}:${dir}` */
  clamp: Set<string>;
  /** Rules in upstream's Go containerboot format (upstreamIpt.ts), in listing order. */
  upstream: Leftover[];
}

export function emptySnapshot(): Snapshot {
  return { chains: new Map(), clamp: new Set(), upstream: [] };
}

export function chainKey(family: Family, hook: Hook, tag: string): string {
  return `${family}:${hook}:${tag}`;
}

export type Op =
  | { op: 'create'; family: Family; hook: Hook; tag: string; group: string; rules: ConcreteRule[] }
  | { op: 'replace'; family: Family; hook: Hook; tag: string; group: string; rules: ConcreteRule[] }
  | { op: 'delete'; family: Family; hook: Hook; tag: string; group: string }
  | { op: 'clamp'; family: Family; dir: ClampDir }
  /** Removes one of our clamp rules (teardown). */
  | { op: 'unclamp'; family: Family; dir: ClampDir }
  /** Removes one rule upstream's containerboot left (same purpose as one we install). */
  | { op: 'drop-upstream'; family: Family; rule: Leftover };

const HOOKS: Hook[] = ['pre', 'post'];
const FAMILIES: Family[] = [4, 6];

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Computes the batch. Groups not in `wants` are untouched. */
export function plan(snap: Snapshot, wants: GroupWant[]): Op[] {
  const ops: Op[] = [];
  const clampWanted = new Set<Family>();
  for (const w of wants) {
    for (const f of w.clamp) clampWanted.add(f);
    for (const family of FAMILIES) {
      for (const hook of HOOKS) {
        const rules = w.rules.filter((r) => r.family === family && r.hook === hook);
        const key = chainKey(family, hook, w.tag);
        const have = snap.chains.get(key);
        const base = { family, hook, tag: w.tag, group: w.group };
        if (rules.length === 0) {
          if (have !== undefined) ops.push({ op: 'delete', ...base });
        } else if (have === undefined) {
          ops.push({ op: 'create', ...base, rules });
        } else if (!sameIds(have, rules.map((r) => r.id))) {
          ops.push({ op: 'replace', ...base, rules });
        }
      }
    }
  }
  for (const family of FAMILIES) {
    if (!clampWanted.has(family)) continue;
    for (const dir of ['out', 'in'] as const) {
      if (!snap.clamp.has(`${family}:${dir}`)) ops.push({ op: 'clamp', family, dir });
    }
  }
  for (const rule of staleLeftovers(snap.upstream, wants)) ops.push({ op: 'drop-upstream', family: rule.family, rule });
  return ops;
}

/** Every chain and clamp rule of ours, removed (a clean exit). Upstream's and others' rules stay. */
export function planTeardown(snap: Snapshot): { ops: Op[]; next: Snapshot } {
  const ops: Op[] = [];
  for (const key of snap.chains.keys()) {
    const [f, hook, tag] = key.split(':');
    ops.push({ op: 'delete', family: Number(f) as Family, hook: hook as Hook, tag, group: '' });
  }
  for (const c of snap.clamp) {
    const [f, dir] = c.split(':');
    ops.push({ op: 'unclamp', family: Number(f) as Family, dir: dir as ClampDir });
  }
  return { ops, next: { chains: new Map(), clamp: new Set(), upstream: snap.upstream } };
}

/** The snapshot after `ops` applied successfully, so the next reconcile needs no listing. */
export function afterOps(snap: Snapshot, ops: Op[]): Snapshot {
  const chains = new Map(snap.chains);
  const clamp = new Set(snap.clamp);
  const dropped = new Set<Leftover>();
  for (const o of ops) {
    if (o.op === 'clamp') { clamp.add(`${o.family}:${o.dir}`); continue; }
    if (o.op === 'unclamp') { clamp.delete(`${o.family}:${o.dir}`); continue; }
    if (o.op === 'drop-upstream') { dropped.add(o.rule); continue; }
    const key = chainKey(o.family, o.hook, o.tag);
    if (o.op === 'delete') chains.delete(key);
    else chains.set(key, o.rules.map((r) => r.id));
  }
  return { chains, clamp, upstream: dropped.size ? snap.upstream.filter((l) => !dropped.has(l)) : snap.upstream };
}

export function opFamilies(ops: Op[]): Family[] {
  return FAMILIES.filter((f) => ops.some((o) => o.family === f));
}

/** The chain layout's plan in the engine's form: the ops and the snapshot after them. */
export function planChains(snap: Snapshot, wants: GroupWant[]): { ops: Op[]; next: Snapshot } {
  const ops = plan(snap, wants);
  return { ops, next: ops.length ? afterOps(snap, ops) : snap };
}
