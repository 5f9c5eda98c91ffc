// Leftovers of upstream's Go containerboot in nftables mode: recognised from a listing (the fixture
// is what `nft -j list table ip nat` showed after upstream's image ran with TS_DEST_IP in
// test/image/switch.test.ts), replaced in the first batch; foreign rules stay. Pure, then the kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowerGroup } from '../../src/firewall/model.js';
import { emptyNftSnapshot, planNft } from '../../src/firewall/nftPlan.js';
import { renderNft } from '../../src/firewall/nftText.js';
import { parseUpstreamNft } from '../../src/firewall/upstreamNft.js';
import type { ProxyRule } from '../../src/firewall/types.js';
import { dumpRules, engineMode, Lab, requireTools, toolsFor } from './helpers/netns.js';

const UPSTREAM_NAT = '{"nftables": [{"table": {"family": "ip", "name": "nat", "handle": 2}}, {"chain": {"family": "ip", "table": "nat", "name": "POSTROUTING", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "nat", "name": "ts-postrouting", "handle": 2}}, {"chain": {"family": "ip", "table": "nat", "name": "PREROUTING", "handle": 5, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "handle": 3, "expr": [{"counter": {"packets": 5, "bytes": 328}}, {"jump": {"target": "ts-postrouting"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "ts-postrouting", "handle": 4, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 16711680]}, "right": 262144}}, {"counter": {"packets": 1, "bytes": 60}}, {"masquerade": null}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "PREROUTING", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "100.64.0.2"}}, {"dnat": {"addr": "10.232.0.10"}}]}}]}';

const clampExpr = (k: string) => [
  { match: { op: '==', left: { meta: { key: k } }, right: 'tailscale0*' } },
  { match: { op: 'in', left: { payload: { protocol: 'tcp', field: 'flags' } }, right: 'syn' } },
  { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } },
];
const rule = (chain: string, handle: number, expr: unknown[], extra: Record<string, unknown> = {}) =>
  ({ rule: { family: 'ip', table: chain === 'ts-clamp' ? 'filter' : 'nat', chain, handle, expr, ...extra } });
const daddrDnat = (a: string, b: string) => [
  { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: a } }, { dnat: { addr: b } },
];

describe('upstream nftables leftovers (pure)', () => {
  it("recognises upstream's AddDNATRule in a real listing, and nothing of tailscaled's", () => {
    expect(parseUpstreamNft(UPSTREAM_NAT, 4)).toEqual([{ family: 4, table: 'nat', chain: 'PREROUTING', handle: 6, purpose: '4:pre:d=100.64.0.2' }]);
    expect(parseUpstreamNft(UPSTREAM_NAT, 6)).toEqual([]);
  });

  it('recognises the clamp pair and the non-tailscale DNAT; ignores counters, comments, extra matches, other chains', () => {
    const doc = JSON.stringify({ nftables: [
      rule('ts-clamp', 10, clampExpr('oifname')), rule('ts-clamp', 11, clampExpr('iifname')),
      rule('PREROUTING', 12, [{ match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'tailscale0*' } }, { dnat: { addr: '100.64.0.9' } }]),
      rule('ts-clamp', 20, clampExpr('oifname'), { comment: 'mine' }),
      rule('ts-clamp', 21, [{ counter: { packets: 0, bytes: 0 } }, ...clampExpr('iifname')]),
      rule('ts-clamp', 22, [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'eth0' } }, ...clampExpr('oifname').slice(1)]),
      rule('PREROUTING', 23, [...daddrDnat('100.64.0.2', '10.0.0.5').slice(0, 1), { counter: { packets: 0, bytes: 0 } }, { dnat: { addr: '10.0.0.5' } }]),
      rule('PREROUTING', 24, [daddrDnat('100.64.0.2', '10.0.0.5')[0], { dnat: { addr: '10.0.0.5', port: 80 } }]),
      rule('PREROUTING', 25, daddrDnat('100.64.0.2', '10.0.0.5'), { comment: 'host' }),
      rule('OUTPUT', 26, daddrDnat('100.64.0.2', '10.0.0.5')),
      rule('PREROUTING', 27, [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '100.64.0.2' } }, { dnat: { addr: '10.0.0.5' } }]),
      rule('PREROUTING', 28, [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth0' } }, { dnat: { addr: '10.0.0.5' } }]),
    ] });
    expect(parseUpstreamNft(doc, 4).map((l) => `${l.handle} ${l.purpose}`)).toEqual(['10 4:clamp', '11 4:clamp', '12 4:pre:nonts']);
  });

  it('the first batch deletes the stale ones by handle beside installing ours; the next has nothing to do', () => {
    const snap = emptyNftSnapshot();
    snap.upstream.push(...parseUpstreamNft(UPSTREAM_NAT, 4));
    snap.upstream.push({ family: 4, table: 'filter', chain: 'ts-clamp', handle: 17, purpose: '4:clamp' }, { family: 4, table: 'nat', chain: 'PREROUTING', handle: 30, purpose: '4:pre:d=100.64.0.3' });
    const want = lowerGroup('proxy-dest-ip', [{ kind: 'dnat', family: 4, dst: '100.64.0.2', to: '10.232.0.10' }, { kind: 'clamp-mss', family: 4 }]);
    const p = planNft(snap, [want], [4, 6]);
    const text = renderNft(p.ops);
    expect(text).toContain('delete rule ip nat PREROUTING handle 6\n');
    expect(text).toContain('delete rule ip filter ts-clamp handle 17\n');
    expect(text).not.toContain('handle 30');
    expect(text).toContain('add element ip containerboot cb-dnat { 100.64.0.2 comment');
    expect(p.next.upstream.map((l) => l.handle)).toEqual([30]);
    expect(planNft(p.next, [want], [4, 6]).ops).toEqual([]);
  });
});

describe("upstream's nftables leftovers in the kernel", () => {
  const lab = new Lab();
  let ns: string;
  beforeAll(async () => {
    await requireTools(toolsFor('nftables'));
    ns = await lab.netns('upnft');
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  it("upstream's DNAT and clamp pair (from two runs) are replaced in one batch; a foreign rule stays", async () => {
    // The same bytecode upstream's runner writes (netfilter.md §1.9), twice (a restart).
    const up = ['add table ip nat', 'add chain ip nat PREROUTING { type nat hook prerouting priority dstnat; policy accept; }',
      'add table ip filter', 'add chain ip filter ts-clamp { type filter hook forward priority mangle; policy accept; }'];
    for (let i = 0; i < 2; i++) {
      up.push('insert rule ip nat PREROUTING ip daddr 100.64.0.1 dnat to 10.0.0.5');
      for (const k of ['oifname', 'iifname']) up.push(`add rule ip filter ts-clamp ${k} "tailscale0*" meta l4proto tcp tcp flags & syn != 0 tcp option maxseg size set rt mtu`);
    }
    up.push('add rule ip nat PREROUTING ip daddr 100.64.0.1 udp dport 53 dnat to 10.0.0.8');
    const r0 = await lab.exec(ns, 'nft', ['-f', '-'], { input: `${up.join('\n')}\n` });
    expect(r0.code, r0.stderr).toBe(0);
    const DEST: ProxyRule[] = [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }];
    const r = await lab.runEngine(ns, { ...engineMode('nftables'), steps: [{ groups: { 'proxy-dest-ip': DEST } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, nftCalls: 1 });
    const after = await dumpRules(lab, ns, 'nftables');
    expect(after).not.toContain('ip daddr 100.64.0.1 dnat to 10.0.0.5');
    expect(after).toContain('100.64.0.1 comment');
    expect(after.match(/maxseg/g), after).toHaveLength(2);
    expect(after.match(/containerboot\|clamp-mss/g), after).toHaveLength(2);
    expect(after).toContain('ip daddr 100.64.0.1 udp dport 53 dnat to 10.0.0.8');
  });
});
