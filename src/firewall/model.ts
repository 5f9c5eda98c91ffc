// Pure part of the engine: validates ProxyRules and lowers them to backend-neutral concrete rules,
// each with a stable identity. Nothing here touches the kernel.
import { sha256Hex } from '../util/sha256.js';
import { parseAddr, type Family } from '../util/netip.js';
import { InvalidRuleError } from './errors.js';
import type { ProxyRule } from './types.js';

/** nat PREROUTING-like (dstnat) or POSTROUTING-like (srcnat). */
export type Hook = 'pre' | 'post';

export type RuleSpec =
  /** DNAT: optional daddr / "not from tailscale0" / l4 port matches; `to` with optional port. */
  | { t: 'dnat'; daddr?: string; notFromTailscale?: boolean; proto?: 'tcp' | 'udp'; dport?: number; to: string; toPort?: number }
  /** DNAT to one of `to`, round robin over new connections; to[0] is the catch-all. */
  | { t: 'dnat-lb'; daddr: string; to: string[] }
  | { t: 'snat'; daddr: string; to: string };

export interface ConcreteRule {
  family: Family;
  hook: Hook;
  /** Stable identity (nft comment / iptables comment), at most 128 characters. */
  id: string;
  spec: RuleSpec;
}

/** What one group wants: ordered rules per (family, hook) and the families needing MSS clamping. */
export interface GroupWant {
  group: string;
  tag: string;
  rules: ConcreteRule[];
  clamp: Family[];
}

export const TUN = 'tailscale0';
/** libnftables rejects comments over 128 characters; iptables allows 256, we use the smaller. */
export const MAX_ID = 128;
const SAFE = /^[A-Za-z0-9 ._:/>,[\]@=+|-]*$/;

const sha256 = sha256Hex;

const tags = new Map<string, string>();

/** Short hash naming a group's chains: stable for the same group name, any characters allowed. */
export function groupTag(group: string): string {
  let t = tags.get(group);
  if (t === undefined) {
    t = sha256(`group\0${group}`).slice(0, 16);
    tags.set(group, t);
  }
  return t;
}

/** The rule identity: readable `group|key` when it is short and safe, else a readable prefix plus a hash. */
export function ruleId(group: string, key: string): string {
  const plain = `${group}|${key}`;
  if (plain.length <= MAX_ID && SAFE.test(plain)) return plain;
  const readable = plain.replace(/[^A-Za-z0-9 ._:/>,[\]@=+|-]/g, '_').slice(0, 80);
  return `${readable}#${sha256(`${group}\0${key}`).slice(0, 40)}`;
}

function bad(kind: string, field: string, value: unknown, why: string): never {
  throw new InvalidRuleError(`invalid ${kind} rule: ${field} ${JSON.stringify(value)} ${why}`);
}

// Dotted quad without leading zeros: already canonical, so the common case skips full parsing.
const V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses an IP literal of the rule's family; literals only, so libnftables never resolves names. */
function ip(kind: string, field: string, value: unknown, family: Family): string {
  if (typeof value !== 'string') bad(kind, field, value, 'is not an IP address');
  if (family === 4 && V4.test(value)) return value;
  let a;
  try {
    a = parseAddr(value);
  } catch {
    bad(kind, field, value, 'is not an IP address');
  }
  if (a.family !== family) bad(kind, field, value, `is not an IPv${family} address`);
  return a.text;
}

function port(kind: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    bad(kind, field, value, 'is not a port (1-65535)');
  }
  return value;
}

function proto(kind: string, value: unknown): 'tcp' | 'udp' {
  const p = typeof value === 'string' ? value.toLowerCase() : value;
  if (p !== 'tcp' && p !== 'udp') bad(kind, 'protocol', value, 'is not tcp or udp');
  return p;
}

function svcName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') bad(kind, 'service name', value, 'is empty');
  return value;
}

function hostPort(addr: string, family: Family, p: number): string {
  return family === 6 ? `[${addr}]:${p}` : `${addr}:${p}`;
}

/** Validates one rule and lowers it; the clamp rule yields no concrete rule (shared, see engine). */
export function lowerRule(group: string, r: ProxyRule): ConcreteRule[] {
  const kind = (r as { kind?: unknown }).kind;
  const family = (r as { family?: unknown }).family;
  if (family !== 4 && family !== 6) bad(String(kind), 'family', family, 'is not 4 or 6');
  const mk = (hook: Hook, key: string, spec: RuleSpec): ConcreteRule => ({ family, hook, id: ruleId(group, key), spec });
  switch (r.kind) {
    case 'dnat': {
      const dst = ip(r.kind, 'destination', r.dst, family);
      const to = ip(r.kind, 'target', r.to, family);
      return [mk('pre', `dnat ${dst}>${to}`, { t: 'dnat', daddr: dst, to })];
    }
    case 'dnat-non-tailscale': {
      const to = ip(r.kind, 'target', r.to, family);
      return [mk('pre', `dnat-nonts >${to}`, { t: 'dnat', notFromTailscale: true, to })];
    }
    case 'snat': {
      const dst = ip(r.kind, 'destination', r.dst, family);
      const src = ip(r.kind, 'source', r.src, family);
      return [mk('post', `snat ${dst}>${src}`, { t: 'snat', daddr: dst, to: src })];
    }
    case 'clamp-mss':
      return [];
    case 'dnat-lb': {
      const dst = ip(r.kind, 'destination', r.dst, family);
      if (!Array.isArray(r.backends) || r.backends.length === 0) bad(r.kind, 'backends', r.backends, 'is empty');
      const to = r.backends.map((b) => ip(r.kind, 'backend', b, family));
      return [mk('pre', `lb ${dst}>${to.join(',')}`, { t: 'dnat-lb', daddr: dst, to })];
    }
    case 'portmap': {
      const svc = svcName(r.kind, r.svc);
      const p = proto(r.kind, r.proto);
      const m = port(r.kind, 'match port', r.matchPort);
      const t = port(r.kind, 'target port', r.targetPort);
      const to = ip(r.kind, 'target IP', r.targetIP, family);
      return [mk('pre', `pm ${svc} ${p}:${m}>${hostPort(to, family, t)}`,
        { t: 'dnat', notFromTailscale: true, proto: p, dport: m, to, toPort: t })];
    }
    case 'svc-dnat': {
      const svc = svcName(r.kind, r.svc);
      const vip = ip(r.kind, 'service IP', r.vip, family);
      const cip = ip(r.kind, 'cluster IP', r.clusterIP, family);
      return [mk('pre', `svc ${svc} ${vip}>${cip}`, { t: 'dnat', daddr: vip, to: cip })];
    }
    default:
      return bad(String(kind), 'kind', kind, 'is not a known rule kind');
  }
}

/** Validates and lowers a whole group; duplicate rules collapse to one (re-install never duplicates). */
export function lowerGroup(group: string, rules: ProxyRule[]): GroupWant {
  if (!Array.isArray(rules)) throw new InvalidRuleError(`invalid rules for group ${JSON.stringify(group)}: not a list`);
  const out: ConcreteRule[] = [];
  // Groups hold a few rules (HA egress: 2 port maps, 1 SNAT): a scan finds duplicates with less
  // garbage than a set of keys per group would leave for 500 of them.
  let clamp4 = false, clamp6 = false;
  for (const r of rules) {
    if (r && r.kind === 'clamp-mss') {
      if (r.family !== 4 && r.family !== 6) bad(r.kind, 'family', r.family, 'is not 4 or 6');
      if (r.addr !== undefined) ip(r.kind, 'address', r.addr, r.family);
      if (r.family === 4) clamp4 = true; else clamp6 = true;
      continue;
    }
    for (const c of lowerRule(group, r)) {
      if (!out.some((o) => o.id === c.id && o.family === c.family && o.hook === c.hook)) out.push(c);
    }
  }
  const clamp: Family[] = clamp4 ? (clamp6 ? [4, 6] : [4]) : clamp6 ? [6] : [];
  return { group, tag: groupTag(group), rules: out, clamp };
}
