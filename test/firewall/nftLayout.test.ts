// The nftables map layout's diff (nftPlan.ts): element-wise changes, keys shared by several
// groups, conflicting keys, and the removal of the previous layout's chains.
import { describe, expect, it } from 'vitest';
import { lowerGroup } from '../../src/firewall/model.js';
import { emptyNftSnapshot, planNft, splitGroup, type NftOp, type NftSnapshot } from '../../src/firewall/nftPlan.js';
import { parseNftList, renderNft } from '../../src/firewall/nftText.js';
import type { ProxyRule } from '../../src/firewall/types.js';

const pm = (svc: string, m: number, ip: string, t = 80): ProxyRule => ({ kind: 'portmap', family: 4, svc, proto: 'tcp', matchPort: m, targetIP: ip, targetPort: t });
const snat = (dst: string): ProxyRule => ({ kind: 'snat', family: 4, dst, src: '100.64.0.1' });

function step(snap: NftSnapshot, groups: Record<string, ProxyRule[]>): { ops: NftOp[]; next: NftSnapshot; text: string } {
  const r = planNft(snap, Object.entries(groups).map(([g, rules]) => lowerGroup(g, rules)), [4, 6]);
  return { ...r, text: renderNft(r.ops) };
}

const elemOps = (ops: NftOp[]) => ops.filter((o) => o.op === 'elem-add' || o.op === 'elem-del').map((o) => `${o.op} ${o.map} ${o.key}${o.op === 'elem-add' ? ` ${o.value}` : ''}`);

describe('nftables map layout', () => {
  it('splitGroup: map rules become elements (first rule per key wins), the rest go to their chain in order', () => {
    const w = lowerGroup('g', [
      pm('a', 1000, '100.64.1.1'), pm('a', 1000, '100.64.1.2'), snat('100.64.1.1'),
      { kind: 'dnat-non-tailscale', family: 4, to: '10.0.0.1' },
      { kind: 'dnat-non-tailscale', family: 6, to: 'fd00::1' },
      { kind: 'dnat-lb', family: 4, dst: '100.64.0.9', backends: ['10.0.0.2', '10.0.0.3'] },
    ]);
    const { elems, chains } = splitGroup(w);
    expect([...elems].map(([k, e]) => `${k} ${e.value}`)).toEqual(['4|portmap|tcp . 1000 100.64.1.1 . 80', '4|snat|100.64.1.1 100.64.0.1']);
    expect(elems.get('4|portmap|tcp . 1000')!.id).toBe(w.rules[0]!.id);
    expect(chains.map((c) => c.map((r) => r.id))).toEqual([[w.rules[3]!.id, w.rules[5]!.id], [], [w.rules[4]!.id], []]);
  });

  it('a first batch builds the skeleton once; 500 services are map elements, not chains', () => {
    const groups: Record<string, ProxyRule[]> = {};
    for (let i = 0; i < 500; i++) groups[`egress-svc:s${i}`] = [pm(`s${i}`, 10000 + i, `100.64.1.${i % 250}`), snat(`100.64.1.${i % 250}`)];
    const r = step(emptyNftSnapshot(), groups);
    expect(r.text.match(/^add chain /gm)).toHaveLength(2);
    expect(r.text.match(/^add rule /gm)).toHaveLength(3);
    // Elements go in one statement per map.
    expect(r.text.match(/^add element /gm)).toHaveLength(2);
    expect(elemOps(r.ops).filter((o) => o.startsWith('elem-add portmap'))).toHaveLength(500);
    // 250 distinct SNAT targets, each shared by two services.
    expect(elemOps(r.ops).filter((o) => o.startsWith('elem-add snat'))).toHaveLength(250);
    // Changing one service touches only its element.
    const c = step(r.next, { 'egress-svc:s7': [pm('s7', 10007, '100.64.1.7', 81), snat('100.64.1.7')] });
    expect(elemOps(c.ops)).toEqual(['elem-del portmap tcp . 10007', 'elem-add portmap tcp . 10007 100.64.1.7 . 81']);
    expect(c.text).toBe('delete element ip containerboot cb-portmap { tcp . 10007 }\n'
      + `add element ip containerboot cb-portmap { tcp . 10007 comment "${lowerGroup('egress-svc:s7', []).tag} egress-svc:s7|pm s7 tcp:10007>100.64.1.7:81" : 100.64.1.7 . 81 }\n`);
    // The same again: nothing to do.
    expect(step(c.next, { 'egress-svc:s7': [pm('s7', 10007, '100.64.1.7', 81), snat('100.64.1.7')] }).ops).toEqual([]);
  });

  it('a key several groups want stays while one of them still wants it, and names a remaining owner', () => {
    const a = step(emptyNftSnapshot(), { ga: [snat('100.64.0.2')], gb: [snat('100.64.0.2')] });
    expect(elemOps(a.ops)).toEqual(['elem-add snat 100.64.0.2 100.64.0.1']);
    const b = step(a.next, { [[...a.next.groups.keys()].sort()[0] === lowerGroup('ga', []).tag ? 'ga' : 'gb']: [] });
    // The element is rewritten only to name the remaining owner (what a restart reads back).
    expect(elemOps(b.ops)).toEqual(['elem-del snat 100.64.0.2', 'elem-add snat 100.64.0.2 100.64.0.1']);
    const c = step(b.next, { ga: [], gb: [] });
    expect(elemOps(c.ops)).toEqual(['elem-del snat 100.64.0.2']);
  });

  it('conflicting keys: the installed value stays while its group wants it, then the other takes over', () => {
    const a = step(emptyNftSnapshot(), { first: [pm('x', 4006, '100.64.0.2')] });
    const b = step(a.next, { second: [pm('y', 4006, '100.64.0.3')] });
    expect(elemOps(b.ops)).toEqual([]);
    const c = step(b.next, { first: [] });
    expect(elemOps(c.ops)).toEqual(['elem-del portmap tcp . 4006', 'elem-add portmap tcp . 4006 100.64.0.3 . 80']);
  });

  it('deletes the previous layout\'s per-group base chains in the first batch', () => {
    const listing = { nftables: [{ chain: { name: 'cb-0123456789abcdef-pre' } }, { chain: { name: 'cb-0123456789abcdef-post' } }, { chain: { name: 'ts-clamp' } }] };
    const snap = parseNftList(JSON.stringify(listing), 4);
    const r = step(snap, { g: [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.2' }] });
    expect(r.text).toContain('delete chain ip containerboot cb-0123456789abcdef-pre\ndelete chain ip containerboot cb-0123456789abcdef-post\n');
    expect(r.next.legacy).toEqual([]);
    expect(step(r.next, { g: [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.2' }] }).ops).toEqual([]);
  });

  it('a group chain is jumped to while it has rules, and removed with its jump', () => {
    const lb: ProxyRule[] = [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: ['192.0.2.2', '192.0.2.3'] }];
    const a = step(emptyNftSnapshot(), { lb });
    const tag = lowerGroup('lb', []).tag;
    expect(a.text).toContain(`add chain ip containerboot cbg-${tag}-pre\n`);
    const b = step(a.next, { lb: [] });
    expect(b.text).toBe(`add table ip containerboot\nflush chain ip containerboot prerouting\n`
      + 'add rule ip containerboot prerouting dnat to ip daddr map @cb-dnat comment "containerboot|dnat map"\n'
      + 'add rule ip containerboot prerouting iifname != "tailscale0*" dnat to meta l4proto . th dport map @cb-portmap comment "containerboot|portmap map"\n'
      + `flush chain ip containerboot cbg-${tag}-pre\ndelete chain ip containerboot cbg-${tag}-pre\n`);
  });
});

describe('nftables map layout: long identities', () => {
  it('an element whose comment was cut at 128 characters is not rewritten after a restart', () => {
    const svc = 'x'.repeat(100);
    const group = `egress-svc:${svc}`;
    const a = step(emptyNftSnapshot(), { [group]: [pm(svc, 4006, '100.64.0.2')] });
    const add = a.ops.find((o) => o.op === 'elem-add')!;
    expect(add.op === 'elem-add' && add.comment.length).toBe(128);
    const listing = { nftables: [{ map: { name: 'cb-portmap', elem: [[{ elem: { val: { concat: ['tcp', 4006] }, comment: add.op === 'elem-add' ? add.comment : '' } }, { concat: ['100.64.0.2', 80] }]] } }] };
    const snap = parseNftList(JSON.stringify(listing), 4);
    expect(elemOps(step(snap, { [group]: [pm(svc, 4006, '100.64.0.2')] }).ops)).toEqual([]);
  });
});
