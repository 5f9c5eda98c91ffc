// Leftovers of upstream's Go containerboot (iptables mode) and the teardown of a clean exit.
// Pure planner tests first, then the same in the kernel (iptables-legacy / iptables-nft / nftables).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSave, renderRestore } from '../../src/firewall/iptablesText.js';
import { lowerGroup } from '../../src/firewall/model.js';
import { emptyNftSnapshot, planNftTeardown } from '../../src/firewall/nftPlan.js';
import { emptySnapshot, planChains, planTeardown } from '../../src/firewall/plan.js';
import { parseUpstreamLine, staleLeftovers, v6Slash32, wantedPurposes } from '../../src/firewall/upstreamIpt.js';
import { FakeFirewall } from '../../src/firewall/fake.js';
import type { ProxyRule } from '../../src/firewall/types.js';
import { BACKENDS, dumpRules, engineMode, Lab, requireTools, toolsFor, type BackendName } from './helpers/netns.js';

// Exactly what iptables-save prints for the rules upstream's runner writes (netfilter.md §1.2,
// checked with iptables-legacy 1.8.9).
const UP4 = `*mangle
:FORWARD ACCEPT [0:0]
-A FORWARD -o tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A FORWARD -i tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A FORWARD -o tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A FORWARD -o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5
-A PREROUTING -d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5
-A PREROUTING -d 100.64.0.1/32 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.0.0.6
-A PREROUTING ! -i tailscale0 -j DNAT --to-destination 100.64.0.9
-A PREROUTING ! -i tailscale0 -p tcp -m tcp --dport 4006 -m comment --comment "svc1:tcp:4006 -> tcp:80" -j DNAT --to-destination 100.64.0.2:80
-A PREROUTING -d 100.99.0.1/32 -m comment --comment "svc: svc1, 100.99.0.1 -> 10.0.0.7" -j DNAT --to-destination 10.0.0.7
-A PREROUTING -d 100.64.0.1/32 -p tcp -j DNAT --to-destination 10.0.0.5
-A PREROUTING -d 100.64.0.0/24 -j DNAT --to-destination 10.0.0.5
-A PREROUTING -d 100.64.0.1/32 -m comment --comment "host rule" -j DNAT --to-destination 10.0.0.5
-A PREROUTING -i eth0 -j DNAT --to-destination 100.64.0.9
-A POSTROUTING -d 100.64.0.9/32 -j SNAT --to-source 100.64.0.1
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
`;
const UP6 = `*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d fd7a:115c:a1e0::1/128 -j DNAT --to-destination fd00::5
-A POSTROUTING -d fd7a:115c::/32 -j SNAT --to-source fd7a:115c:a1e0::1
COMMIT
`;

function snapOf(): ReturnType<typeof emptySnapshot> {
  const s = emptySnapshot();
  parseSave(UP4, 4, s);
  parseSave(UP6, 6, s);
  return s;
}

describe('upstream leftovers (pure)', () => {
  it("recognises upstream's exact formats and nothing else", () => {
    const s = snapOf();
    expect(s.upstream.map((l) => `${l.family} ${l.chain} ${l.purpose}`)).toEqual([
      '4 FORWARD 4:clamp', '4 FORWARD 4:clamp', '4 FORWARD 4:clamp',
      '4 PREROUTING 4:pre:d=100.64.0.1', '4 PREROUTING 4:pre:d=100.64.0.1', '4 PREROUTING 4:pre:d=100.64.0.1',
      '4 PREROUTING 4:pre:nonts', '4 PREROUTING 4:pre:pm=tcp:4006', '4 PREROUTING 4:pre:d=100.99.0.1',
      '4 POSTROUTING 4:post:d=100.64.0.9',
      '6 PREROUTING 6:pre:d=fd7a:115c:a1e0::1', '6 POSTROUTING 6:post:d=fd7a:115c::',
    ]);
    // Foreign rules: other interfaces, extra matches, networks, other comments, other targets.
    for (const [t, c, a] of [
      ['mangle', 'FORWARD', '-o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu'],
      ['nat', 'PREROUTING', '-d 100.64.0.1/32 -p tcp -j DNAT --to-destination 10.0.0.5'],
      ['nat', 'PREROUTING', '-d 100.64.0.0/24 -j DNAT --to-destination 10.0.0.5'],
      ['nat', 'PREROUTING', '-d 100.64.0.1/32 -m comment --comment "host rule" -j DNAT --to-destination 10.0.0.5'],
      ['nat', 'PREROUTING', '-d 100.99.0.1/32 -m comment --comment "svc: s, 100.99.0.2 -> 10.0.0.7" -j DNAT --to-destination 10.0.0.7'],
      ['nat', 'PREROUTING', '! -i tailscale0 -p tcp -m tcp --dport 4006 -m comment --comment "s:tcp:4006 -> tcp:81" -j DNAT --to-destination 100.64.0.2:80'],
      ['nat', 'PREROUTING', '-i eth0 -j DNAT --to-destination 100.64.0.9'],
      ['nat', 'OUTPUT', '-d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5'],
      ['nat', 'POSTROUTING', '-o eth0 -j MASQUERADE'],
      ['nat', 'POSTROUTING', '-d 100.64.0.9/32 -j MASQUERADE'],
      ['filter', 'FORWARD', '-o tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu'],
    ] as const) expect(parseUpstreamLine(4, t, c, a), a).toBeUndefined();
    // An IPv4 line is not an IPv6 leftover, and v6 SNAT must be upstream's /32 form.
    expect(parseUpstreamLine(6, 'nat', 'PREROUTING', '-d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5')).toBeUndefined();
    expect(parseUpstreamLine(6, 'nat', 'POSTROUTING', '-d fd7a:115c:a1e0::7/32 -j SNAT --to-source fd7a:115c:a1e0::1')).toBeUndefined();
    expect(v6Slash32('fd7a:115c:a1e0::7')).toBe('fd7a:115c::');
  });

  it('only leftovers of the same purpose as a wanted rule are stale', () => {
    const s = snapOf();
    const dest = lowerGroup('proxy-dest-ip', [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }]);
    expect([...wantedPurposes([dest])].sort()).toEqual(['4:clamp', '4:pre:d=100.64.0.1']);
    const stale = staleLeftovers(s.upstream, [dest]);
    // The three DNATs from our tailnet IP (plain, duplicate, load-balanced) and the three clamps.
    expect(stale.map((l) => l.args)).toEqual([
      ...s.upstream.filter((l) => l.purpose === '4:clamp').map((l) => l.args),
      '-d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5',
      '-d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5',
      '-d 100.64.0.1/32 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.0.0.6',
    ]);
    const egress = lowerGroup('proxy-egress', [
      { kind: 'dnat-non-tailscale', family: 4, to: '100.64.0.9' }, { kind: 'snat', family: 4, dst: '100.64.0.9', src: '100.64.0.1' },
      { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::7', src: 'fd7a:115c:a1e0::1' },
    ]);
    expect(staleLeftovers(s.upstream, [egress]).map((l) => l.purpose)).toEqual(['4:pre:nonts', '4:post:d=100.64.0.9', '6:post:d=fd7a:115c::']);
    const pm = lowerGroup('svc1', [{ kind: 'portmap', family: 4, svc: 'svc1', proto: 'tcp', matchPort: 4006, targetIP: '100.64.0.3', targetPort: 80 }]);
    expect(staleLeftovers(s.upstream, [pm]).map((l) => l.purpose)).toEqual(['4:pre:pm=tcp:4006']);
    expect(staleLeftovers(s.upstream, [lowerGroup('other', [{ kind: 'dnat', family: 4, dst: '100.64.0.2', to: '10.0.0.5' }])])).toEqual([]);
  });

  it('the first batch deletes the stale leftovers beside installing ours, and the next has nothing to do', () => {
    const s = snapOf();
    const dest = lowerGroup('proxy-dest-ip', [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }]);
    const p = planChains(s, [dest]);
    const text = renderRestore(p.ops, 4);
    expect(text.match(/^-D PREROUTING -d 100\.64\.0\.1\/32 -j DNAT --to-destination 10\.0\.0\.5$/gm)).toHaveLength(2);
    expect(text).toContain('-D PREROUTING -d 100.64.0.1/32 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.0.0.6\n');
    expect(text.match(/^-D FORWARD -o tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu$/gm)).toHaveLength(2);
    expect(text).not.toContain('-D PREROUTING ! -i');
    expect(text).not.toContain('100.99.0.1');
    expect(renderRestore(p.ops, 6)).toBe('');
    expect(planChains(p.next, [dest]).ops).toEqual([]);
    expect(p.next.upstream.map((l) => l.purpose)).toEqual(['4:pre:nonts', '4:pre:pm=tcp:4006', '4:pre:d=100.99.0.1', '4:post:d=100.64.0.9', '6:pre:d=fd7a:115c:a1e0::1', '6:post:d=fd7a:115c::']);
  });

  it('teardown removes our chains and clamp rules, nothing else', () => {
    const dest = lowerGroup('proxy-dest-ip', [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }]);
    const installed = planChains(emptySnapshot(), [dest]).next;
    const t = planTeardown(installed);
    const text = renderRestore(t.ops, 4);
    expect(text).toContain(`-D PREROUTING -m comment --comment "containerboot|group ${dest.tag}" -j CB-${dest.tag}-PRE`);
    expect(text).toContain(`-X CB-${dest.tag}-PRE`);
    expect(text.match(/^-D FORWARD -[oi] tailscale0 .*containerboot\|clamp-mss (in|out).*$/gm)).toHaveLength(2);
    expect(planTeardown(t.next).ops).toEqual([]);
    expect(planNftTeardown(emptyNftSnapshot(), [4, 6]).ops).toEqual([]);
  });

  it('in the fake: upstream rules replaced once, foreign rules kept, removeAll leaves only foreign and unrelated ones', async () => {
    const fw = new FakeFirewall(true);
    const t = fw.fake.tables[4];
    t.get('nat')!.get('PREROUTING')!.push('-d 100.64.0.1/32 -j DNAT --to-destination 10.0.0.5', '-i eth0 -j DNAT --to-destination 100.64.0.9');
    t.get('mangle')!.get('FORWARD')!.push('-o tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu');
    await fw.prime();
    await fw.apply({ 'proxy-dest-ip': [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }] });
    expect(fw.batches).toBe(1);
    const rules = fw.rules();
    expect(rules.filter((r) => r.includes('DNAT --to-destination 10.0.0.5'))).toHaveLength(1);
    expect(rules.filter((r) => r.includes('TCPMSS'))).toHaveLength(2);
    expect(rules).toContain('ipv4 nat -A PREROUTING -i eth0 -j DNAT --to-destination 100.64.0.9');
    await fw.removeAll();
    expect(fw.rules()).toEqual(['ipv4 nat -A PREROUTING -i eth0 -j DNAT --to-destination 100.64.0.9']);
  });
});

const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;
const DEST: ProxyRule[] = [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }];

const IPTABLES: BackendName[] = ['iptables-legacy', 'iptables-nft'];

describe.each(IPTABLES)("upstream's leftovers in the kernel with the %s backend", (backend: BackendName) => {
  const lab = new Lab();
  let ns: string;
  const v = backend === 'iptables-legacy' ? 'legacy' : 'nft';

  beforeAll(async () => {
    await requireTools(toolsFor(backend));
    ns = await lab.netns('left');
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  it("upstream's rules from a run (twice) are replaced by ours in one batch; a foreign rule stays", async () => {
    // What upstream's runner does for TS_DEST_IP, twice (a restart), with the same tool and flags.
    for (let i = 0; i < 2; i++) {
      await lab.exec(ns, `iptables-${v}`, ['-t', 'nat', '-I', 'PREROUTING', '1', '--destination', '100.64.0.1', '-j', 'DNAT', '--to-destination', '10.0.0.5', '--wait']);
      for (const d of ['-o', '-i']) {
        await lab.exec(ns, `iptables-${v}`, ['-t', 'mangle', '-A', 'FORWARD', d, 'tailscale0', '-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu', '--wait']);
      }
    }
    await lab.exec(ns, `iptables-${v}`, ['-t', 'nat', '-A', 'PREROUTING', '-d', '100.64.0.1', '-p', 'udp', '-j', 'DNAT', '--to-destination', '10.0.0.8', '--wait']);
    const r = await lab.runEngine(ns, { ...engineMode(backend), steps: [{ groups: { 'proxy-dest-ip': DEST } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, spawns: 1 });
    const after = await dumpRules(lab, ns, backend);
    expect(count(after, /DNAT --to-destination 10\.0\.0\.5$/gm), after).toBe(1);
    expect(after).toContain('proxy-dest-ip|dnat 100.64.0.1>10.0.0.5');
    expect(count(after, /TCPMSS/g), after).toBe(2);
    expect(count(after, /containerboot\|clamp-mss/g), after).toBe(2);
    expect(after).toContain('-A PREROUTING -d 100.64.0.1/32 -p udp -j DNAT --to-destination 10.0.0.8');
  });
});

describe.each(BACKENDS)('removeAll (clean exit) in the kernel with the %s backend', (backend: BackendName) => {
  const lab = new Lab();
  let ns: string;
  const v = backend === 'iptables-legacy' ? 'legacy' : 'nft';

  beforeAll(async () => {
    await requireTools(toolsFor(backend));
    ns = await lab.netns('rmall');
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  it('takes ours away in one batch and leaves the rest', async () => {
    // A rule of someone else's, in the same tables.
    if (backend === 'nftables') {
      await lab.exec(ns, 'nft', ['-f', '-'], { input: 'add table ip foreign\nadd chain ip foreign c\nadd rule ip foreign c ip daddr 100.64.0.1 udp dport 53 accept\n' });
    } else {
      await lab.exec(ns, `iptables-${v}`, ['-t', 'nat', '-A', 'PREROUTING', '-d', '100.64.0.1', '-p', 'udp', '-j', 'DNAT', '--to-destination', '10.0.0.8', '--wait']);
    }
    const foreign = backend === 'nftables' ? 'ip daddr 100.64.0.1 udp dport 53 accept' : '-A PREROUTING -d 100.64.0.1/32 -p udp -j DNAT --to-destination 10.0.0.8';
    const r = await lab.runEngine(ns, { ...engineMode(backend), steps: [{ groups: { 'proxy-dest-ip': DEST, eg: [{ kind: 'snat', family: 4, dst: '100.64.0.9', src: '100.64.0.1' }] } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    expect(await dumpRules(lab, ns, backend)).toContain('proxy-dest-ip|dnat 100.64.0.1>10.0.0.5');
    const gone = await lab.runEngine(ns, { ...engineMode(backend), steps: [{ removeAll: true }] });
    expect(gone, JSON.stringify(gone)).toMatchObject({ ok: true });
    if (backend === 'nftables') expect([gone.spawns, gone.nftCalls]).toEqual([0, 1]);
    else expect(gone.spawns).toBe(1);
    const after = await dumpRules(lab, ns, backend);
    expect(after).not.toMatch(/containerboot|CB-[0-9a-f]{16}|TCPMSS|maxseg/);
    expect(after).toContain(foreign);
    const again = await lab.runEngine(ns, { ...engineMode(backend), steps: [{ removeAll: true }] });
    expect(again, JSON.stringify(again)).toMatchObject({ ok: true, spawns: 0, nftCalls: 0 });
  });
});
