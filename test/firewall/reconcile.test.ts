// Reconcile behaviour against the real kernel, each step a new engine process in the same netns
// (like a containerboot restart inside one pod).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupTag } from '../../src/firewall/model.js';
import type { ProxyRule } from '../../src/firewall/types.js';
import { BACKENDS, dumpRules, engineMode, Lab, requireTools, toolsFor, type BackendName } from './helpers/netns.js';

const A: ProxyRule[] = [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.2' }, { kind: 'clamp-mss', family: 4 }];
const A2: ProxyRule[] = [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.3' }, { kind: 'clamp-mss', family: 4 }];
const B: ProxyRule[] = [
  { kind: 'portmap', family: 4, svc: 'b', proto: 'tcp', matchPort: 4006, targetIP: '100.64.0.2', targetPort: 80 },
  { kind: 'portmap', family: 6, svc: 'b', proto: 'udp', matchPort: 53, targetIP: 'fd7a:115c:a1e0::2', targetPort: 53 },
  { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::2', src: 'fd7a:115c:a1e0::1' },
];
const LB: ProxyRule[] = [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: ['192.0.2.2', '192.0.2.3'] }];

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** nft rule handles by comment, to prove untouched rules were not re-created. */
async function nftHandles(lab: Lab, ns: string): Promise<Map<string, number>> {
  const doc = JSON.parse((await lab.exec(ns, 'nft', ['-j', 'list', 'ruleset'])).stdout) as { nftables: Array<{ rule?: { comment?: string; handle: number } }> };
  const m = new Map<string, number>();
  for (const o of doc.nftables) if (o.rule?.comment) m.set(o.rule.comment, o.rule.handle);
  return m;
}

describe.each(BACKENDS)('reconcile in the kernel with the %s backend', (backend: BackendName) => {
  const lab = new Lab();
  let ns: string;
  const mode = engineMode(backend);
  const v = backend === 'iptables-legacy' ? 'legacy' : 'nft';

  beforeAll(async () => {
    await requireTools(toolsFor(backend));
    ns = await lab.netns('rec');
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  it('a restart in the same namespace leaves exactly one copy of each rule and needs no write', async () => {
    const first = await lab.runEngine(ns, { ...mode, steps: [{ groups: { a: A, b: B, lb: LB } }] });
    expect(first, JSON.stringify(first)).toMatchObject({ ok: true });
    // One batch: one restore per family in iptables mode, one libnftables call and no process in nftables.
    if (backend === 'nftables') expect([first.spawns, first.nftCalls]).toEqual([0, 1]);
    else expect(first.spawns).toBe(2);
    const before = await dumpRules(lab, ns, backend);
    const again = await lab.runEngine(ns, { ...mode, steps: [{ groups: { a: A, b: B, lb: LB } }, { groups: { a: A, b: B, lb: LB } }] });
    expect(again, JSON.stringify(again)).toMatchObject({ ok: true, spawns: 0, nftCalls: 0 });
    const after = await dumpRules(lab, ns, backend);
    expect(after).toBe(before);
    expect(count(after, 'a|dnat 100.64.0.1>192.0.2.2')).toBe(1);
    expect(count(after, 'b|pm b tcp:4006>100.64.0.2:80')).toBe(1);
    expect(count(after, 'b|pm b udp:53>[fd7a:115c:a1e0::2]:53')).toBe(1);
    expect(count(after, 'clamp-mss out')).toBe(1);
    expect(count(after, 'clamp-mss in')).toBe(1);
    if (backend === 'nftables') expect(after).toContain('numgen inc mod 2 map { 0 : 192.0.2.2, 1 : 192.0.2.3 }');
    else expect(count(after, '-m statistic --mode nth --every 2 --packet 0')).toBe(1);
  });

  it('changing one target touches only that group, and stale rules go away', async () => {
    const handlesBefore = backend === 'nftables' ? await nftHandles(lab, ns) : undefined;
    const dumpBefore = await dumpRules(lab, ns, backend);
    const r = await lab.runEngine(ns, { ...mode, steps: [{ groups: { a: A2 } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    if (backend === 'nftables') expect([r.spawns, r.nftCalls]).toEqual([0, 1]);
    else expect(r.spawns).toBe(1); // IPv4 only: one iptables-restore
    const after = await dumpRules(lab, ns, backend);
    expect(after).not.toContain('a|dnat 100.64.0.1>192.0.2.2');
    expect(count(after, 'a|dnat 100.64.0.1>192.0.2.3')).toBe(1);
    const linesOf = (t: string, k: string) => t.split('\n').filter((l) => l.includes(k)).join('\n');
    // nftables: map elements carry `<tag> <id>` comments, group-chain rules `<id>`.
    expect(linesOf(after, 'b|')).toBe(linesOf(dumpBefore, 'b|'));
    expect(linesOf(after, 'lb|')).toBe(linesOf(dumpBefore, 'lb|'));
    if (handlesBefore) {
      const h = await nftHandles(lab, ns);
      for (const [c, handle] of handlesBefore) if (c.startsWith('b|') || c.startsWith('lb|') || c.includes('clamp')) expect(h.get(c)).toBe(handle);
    }
  });

  it('a failed batch leaves the previous rules intact and reports a typed error', async () => {
    const before = await dumpRules(lab, ns, backend);
    const tagNew = groupTag('c');
    if (backend === 'nftables') {
      // A group chain of ours in name but a filter base chain in type: the load-balancing DNAT rule
      // for it is refused by the kernel.
      await lab.exec(ns, 'nft', ['add chain ip containerboot cbg-' + tagNew + '-pre { type filter hook input priority 0; policy accept; }']);
    } else {
      // A foreign reference to group a's chain makes deleting that chain fail.
      await lab.exec(ns, `iptables-${v}`, ['-w', '-t', 'nat', '-A', 'OUTPUT', '-j', `CB-${groupTag('a')}-PRE`]);
    }
    const withExternal = await dumpRules(lab, ns, backend);
    const r = await lab.runEngine(ns, { ...mode, steps: [{ groups: { a: [], c: [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.9', backends: ['192.0.2.9'] }] } }] });
    expect(r.ok).toBe(false);
    expect(r.name).toBe('FirewallApplyError');
    if (backend === 'nftables') expect(r.code).toBe('EOPNOTSUPP');
    expect(await dumpRules(lab, ns, backend)).toBe(withExternal);
    expect(withExternal).toContain('a|dnat 100.64.0.1>192.0.2.3');
    expect(before).toContain('a|dnat 100.64.0.1>192.0.2.3');
    if (backend === 'nftables') await lab.exec(ns, 'nft', [`delete chain ip containerboot cbg-${tagNew}-pre`]);
    else await lab.exec(ns, `iptables-${v}`, ['-w', '-t', 'nat', '-D', 'OUTPUT', '-j', `CB-${groupTag('a')}-PRE`]);
  });

  it('bad input is rejected before any kernel call', async () => {
    const before = await dumpRules(lab, ns, backend);
    for (const bad of [
      { kind: 'dnat', family: 4, dst: 'example.com', to: '192.0.2.2' },
      { kind: 'portmap', family: 4, svc: 'x', proto: 'sctp', matchPort: 1, targetIP: '100.64.0.2', targetPort: 1 },
      { kind: 'portmap', family: 4, svc: 'x', proto: 'tcp', matchPort: 0, targetIP: '100.64.0.2', targetPort: 1 },
    ]) {
      const r = await lab.runEngine(ns, { ...mode, steps: [{ groups: { a: [], bad: [bad as ProxyRule] } }] });
      expect(r).toMatchObject({ ok: false, name: 'InvalidRuleError' });
      expect(r.spawns + r.nftCalls).toBe(0);
    }
    expect(await dumpRules(lab, ns, backend)).toBe(before);
  });

  it('removing every group leaves no chains of ours, clamp rules stay (ensure-only)', async () => {
    const r = await lab.runEngine(ns, { ...mode, steps: [{ groups: { a: [], b: [], lb: [] } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    const after = await dumpRules(lab, ns, backend);
    expect(after).not.toMatch(/cbg?-[0-9a-f]{16}|CB-[0-9a-f]{16}/);
    // nftables: the maps stay (empty), one base chain per hook.
    if (backend === 'nftables') expect(after).not.toContain('elements =');
    expect(count(after, 'clamp-mss out')).toBe(1);
  });
});

describe('nftables: upgrade in place from the per-group base-chain layout', () => {
  const lab = new Lab();
  let ns: string;
  beforeAll(async () => {
    await requireTools(toolsFor('nftables'));
    ns = await lab.netns('upg');
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  it('the first batch deletes the previous version\'s chains and installs the map layout', async () => {
    // What the previous version left in the netns: one nat base chain per group and hook.
    const t = groupTag('a');
    const old = [
      'add table ip containerboot',
      `add chain ip containerboot cb-${t}-pre { type nat hook prerouting priority dstnat; policy accept; }`,
      `add rule ip containerboot cb-${t}-pre ip daddr 100.64.0.1 dnat to 192.0.2.2 comment "a|dnat 100.64.0.1>192.0.2.2"`,
      `add chain ip containerboot cb-${groupTag('b')}-post { type nat hook postrouting priority srcnat; policy accept; }`,
      'add chain ip containerboot ts-clamp { type filter hook forward priority mangle; policy accept; }',
      'add rule ip containerboot ts-clamp oifname "tailscale0*" meta l4proto tcp tcp flags & syn != 0 tcp option maxseg size set rt mtu comment "containerboot|clamp-mss out"',
      'add rule ip containerboot ts-clamp iifname "tailscale0*" meta l4proto tcp tcp flags & syn != 0 tcp option maxseg size set rt mtu comment "containerboot|clamp-mss in"',
    ].join('\n');
    await lab.exec(ns, 'nft', ['-f', '-'], { input: `${old}\n` });
    const r = await lab.runEngine(ns, { mode: 'nftables', steps: [{ groups: { a: A2 } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, nftCalls: 1 });
    const after = await dumpRules(lab, ns, 'nftables');
    expect(after).not.toMatch(/cb-[0-9a-f]{16}-/);
    expect(count(after, 'a|dnat 100.64.0.1>192.0.2.3')).toBe(1);
    expect(after).not.toContain('192.0.2.2');
    expect(count(after, 'clamp-mss out')).toBe(1);
    expect(after.match(/hook prerouting/g)).toHaveLength(1);
  });
});
