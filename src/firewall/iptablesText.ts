// iptables-restore text for a batch and iptables-save parsing. Pure, shared by the real iptables
// backend and the in-process fake.
import type { Family } from '../util/netip.js';
import { TUN, type ConcreteRule, type Hook } from './model.js';
import { chainKey, emptySnapshot, type ClampDir, type Op, type Snapshot } from './plan.js';
import { parseUpstreamLine } from './upstreamIpt.js';

const BUILTIN: Record<Hook, string> = { pre: 'PREROUTING', post: 'POSTROUTING' };
const SUFFIX: Record<Hook, string> = { pre: 'PRE', post: 'POST' };
const CHAIN_RE = /^CB-([0-9a-f]{16})-(PRE|POST)$/;

/** Group chain name; iptables limits chain names to 28 characters (this is 24 at most). */
export function iptChain(tag: string, hook: Hook): string {
  return `CB-${tag}-${SUFFIX[hook]}`;
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function comment(id: string): string {
  return `-m comment --comment ${quote(id)}`;
}

function hostBits(a: string, family: Family): string {
  // Deliberate fix: /128 for IPv6 (upstream wrote /32 for every family).
  return `${a}/${family === 6 ? 128 : 32}`;
}

function target(to: string, family: Family, port?: number): string {
  if (port === undefined) return to;
  // Deliberate fix: IPv6 targets with a port are bracketed (upstream's `addr:port` is read as an address).
  return family === 6 ? `[${to}]:${port}` : `${to}:${port}`;
}

/** The rule lines (without `-A <chain>`) for one concrete rule. */
export function iptRuleArgs(r: ConcreteRule): string[] {
  const s = r.spec;
  switch (s.t) {
    case 'dnat': {
      const m: string[] = [];
      if (s.daddr) m.push(`-d ${hostBits(s.daddr, r.family)}`);
      if (s.notFromTailscale) m.push(`! -i ${TUN}`);
      if (s.proto) m.push(`-p ${s.proto} -m ${s.proto} --dport ${s.dport}`);
      m.push(comment(r.id), `-j DNAT --to-destination ${target(s.to, r.family, s.toPort)}`);
      return [m.join(' ')];
    }
    case 'snat':
      return [`-d ${hostBits(s.daddr, r.family)} ${comment(r.id)} -j SNAT --to-source ${s.to}`];
    case 'dnat-lb': {
      // Round robin over new connections: rule i catches every i-th of what the rules before it left.
      const d = `-d ${hostBits(s.daddr, r.family)}`;
      const lines: string[] = [];
      for (let i = s.to.length; i >= 2; i--) {
        lines.push(`${d} -m statistic --mode nth --every ${i} --packet 0 ${comment(r.id)} -j DNAT --to-destination ${s.to[i - 1]}`);
      }
      lines.push(`${d} ${comment(r.id)} -j DNAT --to-destination ${s.to[0]}`);
      return lines;
    }
  }
}

export function clampId(dir: ClampDir): string {
  return `containerboot|clamp-mss ${dir}`;
}

/** TCPMSS clamping as upstream (SYN set, RST clear), tagged so it is never added twice. */
export function iptClampArgs(dir: ClampDir): string {
  return `${dir === 'out' ? '-o' : '-i'} ${TUN} -p tcp -m tcp --tcp-flags SYN,RST SYN ${comment(clampId(dir))} -j TCPMSS --clamp-mss-to-pmtu`;
}

function jump(tag: string, hook: Hook): string {
  return `${comment(`containerboot|group ${tag}`)} -j ${iptChain(tag, hook)}`;
}

/** iptables-restore --noflush input for the ops of one family (empty string if none). */
export function renderRestore(ops: Op[], family: Family): string {
  const nat: string[] = [];
  const mangle: string[] = [];
  for (const o of ops) {
    if (o.family !== family) continue;
    if (o.op === 'clamp') { mangle.push(`-A FORWARD ${iptClampArgs(o.dir)}`); continue; }
    if (o.op === 'unclamp') { mangle.push(`-D FORWARD ${iptClampArgs(o.dir)}`); continue; }
    if (o.op === 'drop-upstream') {
      // The line exactly as iptables-save printed it; -D removes one copy per line.
      (o.rule.table === 'nat' ? nat : mangle).push(`-D ${o.rule.chain} ${o.rule.args}`);
      continue;
    }
    const chain = iptChain(o.tag, o.hook);
    if (o.op === 'delete') {
      nat.push(`-D ${BUILTIN[o.hook]} ${jump(o.tag, o.hook)}`, `:${chain} - [0:0]`, `-X ${chain}`);
      continue;
    }
    // Declaring a chain under --noflush creates it or empties it: the group's chain is rewritten whole.
    nat.push(`:${chain} - [0:0]`);
    for (const r of o.rules) for (const a of iptRuleArgs(r)) nat.push(`-A ${chain} ${a}`);
    if (o.op === 'create') nat.push(`-I ${BUILTIN[o.hook]} 1 ${jump(o.tag, o.hook)}`);
  }
  let out = '';
  // mangle first: clamp rules are ensure-only, so a nat failure after them does no harm.
  if (mangle.length) out += `*mangle\n${mangle.join('\n')}\nCOMMIT\n`;
  if (nat.length) out += `*nat\n${nat.join('\n')}\nCOMMIT\n`;
  return out;
}

/** Reads one (possibly quoted) word of iptables-save output starting at `i`. */
function readWord(line: string, i: number): [string, number] {
  if (line[i] !== '"') {
    const end = line.indexOf(' ', i);
    return end < 0 ? [line.slice(i), line.length] : [line.slice(i, end), end];
  }
  let out = '';
  let j = i + 1;
  for (; j < line.length && line[j] !== '"'; j++) {
    if (line[j] === '\\' && j + 1 < line.length) j++;
    out += line[j];
  }
  return [out, j + 1];
}

export function commentOf(line: string): string | undefined {
  const k = line.indexOf('--comment ');
  if (k < 0) return undefined;
  return readWord(line, k + '--comment '.length)[0];
}

/** Parses iptables-save output (all tables) into the snapshot of one family. */
export function parseSave(text: string, family: Family, into: Snapshot = emptySnapshot()): Snapshot {
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) { table = line.slice(1).trim(); continue; }
    if (table === 'nat' && line.startsWith(':')) {
      const m = CHAIN_RE.exec(line.slice(1).split(' ')[0]);
      if (m) into.chains.set(chainKey(family, m[2] === 'PRE' ? 'pre' : 'post', m[1]), []);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const chain = line.slice(3).split(' ')[0];
    const left = parseUpstreamLine(family, table, chain, line.slice(4 + chain.length));
    if (left) { into.upstream.push(left); continue; }
    const id = commentOf(line);
    if (id === undefined) continue;
    if (table === 'nat') {
      const m = CHAIN_RE.exec(chain);
      if (!m) continue;
      const key = chainKey(family, m[2] === 'PRE' ? 'pre' : 'post', m[1]);
      const ids = into.chains.get(key) ?? [];
      // A load-balancing rule is several lines with one identity.
      if (ids[ids.length - 1] !== id) ids.push(id);
      into.chains.set(key, ids);
    } else if (table === 'mangle' && chain === 'FORWARD') {
      for (const dir of ['in', 'out'] as const) if (id === clampId(dir)) into.clamp.add(`${family}:${dir}`);
    }
  }
  return into;
}
