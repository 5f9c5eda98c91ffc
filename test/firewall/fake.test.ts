import { describe, expect, it } from 'vitest';
import { createFirewall, FakeFirewall, FirewallApplyError, InvalidRuleError } from '../../src/firewall/index.js';
import { lowerGroup, ruleId, MAX_ID } from '../../src/firewall/model.js';
import { spawnStats } from '../../src/firewall/spawn.js';
import type { ProxyRule } from '../../src/firewall/types.js';

const dnat: ProxyRule = { kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.2' };
const clamp4: ProxyRule = { kind: 'clamp-mss', family: 4 };

describe('createFirewall with TS_TEST_FAKE_NETFILTER', () => {
  it('returns the in-process fake without spawning anything', async () => {
    const before = spawnStats.count;
    const fw = await createFirewall({ TS_TEST_FAKE_NETFILTER: 'true', PATH: '/nonexistent' });
    expect(fw).toBeInstanceOf(FakeFirewall);
    expect(fw.mode).toBe('fake');
    await fw.apply({ g: [dnat, clamp4] });
    expect(spawnStats.count).toBe(before);
  });

  it('TS_TEST_FAKE_NETFILTER_6 controls IPv6 NAT like upstream (unset/unparsable/true ⇒ true)', async () => {
    for (const [v, want] of [[undefined, true], ['true', true], ['bogus', true], ['false', false], ['0', false]] as const) {
      const env: NodeJS.ProcessEnv = { TS_TEST_FAKE_NETFILTER: '1' };
      if (v !== undefined) env.TS_TEST_FAKE_NETFILTER_6 = v;
      expect((await createFirewall(env)).hasIPv6NAT()).toBe(want);
    }
  });
});

describe('FakeFirewall reconcile semantics', () => {
  it("with the caller's keys: a group re-sent under its key is not lowered again, a new key is", async () => {
    const fw = new FakeFirewall();
    const other: ProxyRule = { kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.3' };
    await fw.apply({ g: [dnat] }, { g: 'k1' });
    const first = fw.rules();
    // Same key, other rules: the caller said they are equal, so the first lowering stands.
    await fw.apply({ g: [other] }, { g: 'k1' });
    expect(fw.rules()).toEqual(first);
    await fw.apply({ g: [other] }, { g: 'k2' });
    expect(fw.rules().some((l) => l.includes('--to-destination 192.0.2.3'))).toBe(true);
    // Without keys the rules themselves are the key.
    await fw.apply({ g: [dnat] });
    expect(fw.rules()).toEqual(first);
    await expect(fw.apply({ g: [{ ...dnat, to: 'nope' }] }, { g: 'k3' })).rejects.toBeInstanceOf(InvalidRuleError);
  });

  it('installs rules once, idempotently', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ 'dest-ip': [dnat, clamp4] });
    const first = fw.rules();
    await fw.apply({ 'dest-ip': [dnat, clamp4, dnat] });
    expect(fw.rules()).toEqual(first);
    expect(first.filter((l) => l.includes('-j DNAT'))).toHaveLength(1);
    expect(first.filter((l) => l.includes('TCPMSS'))).toHaveLength(2);
    expect(first).toContain('ipv4 nat -A CB-' + first.find((l) => l.includes('DNAT'))!.split('-A CB-')[1]);
    expect(first.some((l) => l.includes('-d 100.64.0.1/32 -m comment --comment "dest-ip|dnat 100.64.0.1>192.0.2.2" -j DNAT --to-destination 192.0.2.2'))).toBe(true);
  });

  it('clamp rules are shared between groups and never duplicated or removed', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ a: [dnat, clamp4], b: [{ kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' }, clamp4] });
    await fw.apply({ a: [] });
    const rules = fw.rules();
    expect(rules.filter((l) => l.includes('TCPMSS'))).toHaveLength(2);
    expect(rules.some((l) => l.includes('DNAT'))).toBe(false);
    expect(rules.some((l) => l.includes('SNAT --to-source 100.64.0.1'))).toBe(true);
  });

  it('replaces stale rules when a target changes and leaves other groups untouched', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ a: [dnat], b: [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.9' }] });
    const bLines = fw.rules().filter((l) => l.includes('192.0.2.9'));
    await fw.apply({ a: [{ ...dnat, to: '192.0.2.3' }] });
    const rules = fw.rules();
    expect(rules.some((l) => l.includes('--to-destination 192.0.2.2'))).toBe(false);
    expect(rules.some((l) => l.includes('--to-destination 192.0.2.3'))).toBe(true);
    expect(rules.filter((l) => l.includes('192.0.2.9'))).toEqual(bLines);
  });

  it('an empty list removes the group, its chain and its jump', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ a: [dnat] });
    await fw.apply({ a: [] });
    expect(fw.rules()).toEqual([]);
    expect([...fw.fake.tables[4].get('nat')!.keys()]).toEqual(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);
  });

  it('a failed batch leaves previous rules intact', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ a: [dnat] });
    const before = fw.rules();
    // The engine relists and retries once after a failure with a cached listing; make both fail.
    let calls = 0;
    fw.fake.apply = async () => { calls++; throw new FirewallApplyError('boom', 'EBUSY'); };
    await expect(fw.apply({ a: [{ ...dnat, to: '192.0.2.7' }] })).rejects.toThrow('boom');
    expect(calls).toBe(2);
    expect(fw.rules()).toEqual(before);
  });

  it('after a failure with a cached listing it lists again and retries once', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ a: [dnat] });
    fw.fake.failNext = new FirewallApplyError('transient', 'EBUSY');
    await fw.apply({ a: [{ ...dnat, to: '192.0.2.7' }] });
    expect(fw.rules().some((l) => l.includes('--to-destination 192.0.2.7'))).toBe(true);
    expect(fw.rules().filter((l) => l.includes('DNAT'))).toHaveLength(1);
  });

  it('rejects bad input before any backend call, naming the bad value', async () => {
    const fw = new FakeFirewall();
    let calls = 0;
    fw.fake.apply = async () => { calls++; };
    const bad: [ProxyRule, string][] = [
      [{ kind: 'dnat', family: 4, dst: 'not-an-ip', to: '1.2.3.4' }, 'destination "not-an-ip" is not an IP address'],
      [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: 'fd00::1' }, 'target "fd00::1" is not an IPv4 address'],
      [{ kind: 'portmap', family: 4, svc: 's', proto: 'sctp' as 'tcp', matchPort: 1, targetIP: '1.2.3.4', targetPort: 2 }, 'protocol "sctp" is not tcp or udp'],
      [{ kind: 'portmap', family: 4, svc: 's', proto: 'tcp', matchPort: 70000, targetIP: '1.2.3.4', targetPort: 2 }, 'match port 70000 is not a port'],
      [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: [] }, 'backends [] is empty'],
      [{ kind: 'bogus' } as unknown as ProxyRule, 'family undefined is not 4 or 6'],
    ];
    for (const [r, msg] of bad) {
      const p = fw.apply({ g: [r] });
      await expect(p).rejects.toBeInstanceOf(InvalidRuleError);
      await expect(p).rejects.toThrow(msg);
    }
    expect(calls).toBe(0);
  });

  it('refuses IPv6 rules when the fake has no IPv6 NAT', async () => {
    const fw = new FakeFirewall(false);
    await expect(fw.apply({ g: [{ kind: 'dnat', family: 6, dst: 'fd7a::1', to: 'fd00::1' }] })).rejects.toThrow('IPv6 is not available');
  });

  it('renders every operation containerboot uses, IPv6 bracketed and /128', async () => {
    const fw = new FakeFirewall();
    await fw.apply({
      ing: [{ kind: 'dnat', family: 6, dst: 'fd7a:115c:a1e0::1', to: 'fd00::2' }, { kind: 'clamp-mss', family: 6 }],
      eg: [{ kind: 'dnat-non-tailscale', family: 6, to: 'fd7a:115c:a1e0::7' }, { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::7', src: 'fd7a:115c:a1e0::1' }],
      lb: [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: ['192.0.2.2', '192.0.2.3', '192.0.2.4'] }],
      pm: [{ kind: 'portmap', family: 6, svc: 'svc1', proto: 'TCP' as 'tcp', matchPort: 4006, targetIP: 'fd7a:115c:a1e0::7', targetPort: 80 }],
      vip: [{ kind: 'svc-dnat', family: 4, svc: 'svc:web', vip: '100.100.1.1', clusterIP: '10.0.0.5' }],
    });
    const r = fw.rules().join('\n');
    expect(r).toContain('-d fd7a:115c:a1e0::1/128 -m comment --comment "ing|dnat fd7a:115c:a1e0::1>fd00::2" -j DNAT --to-destination fd00::2');
    expect(r).toContain('! -i tailscale0 -m comment --comment "eg|dnat-nonts >fd7a:115c:a1e0::7" -j DNAT --to-destination fd7a:115c:a1e0::7');
    expect(r).toContain('-d fd7a:115c:a1e0::7/128 -m comment --comment "eg|snat fd7a:115c:a1e0::7>fd7a:115c:a1e0::1" -j SNAT --to-source fd7a:115c:a1e0::1');
    expect(r).toContain('-m statistic --mode nth --every 3 --packet 0 -m comment --comment "lb|lb 100.64.0.1>192.0.2.2,192.0.2.3,192.0.2.4" -j DNAT --to-destination 192.0.2.4');
    expect(r).toContain('--every 2 --packet 0 -m comment --comment "lb|lb 100.64.0.1>192.0.2.2,192.0.2.3,192.0.2.4" -j DNAT --to-destination 192.0.2.3');
    expect(r).toMatch(/-d 100\.64\.0\.1\/32 -m comment --comment "lb\|lb [^"]*" -j DNAT --to-destination 192\.0\.2\.2/);
    expect(r).toContain('! -i tailscale0 -p tcp -m tcp --dport 4006 -m comment --comment "pm|pm svc1 tcp:4006>[fd7a:115c:a1e0::7]:80" -j DNAT --to-destination [fd7a:115c:a1e0::7]:80');
    expect(r).toContain('-d 100.100.1.1/32 -m comment --comment "vip|svc svc:web 100.100.1.1>10.0.0.5" -j DNAT --to-destination 10.0.0.5');
    expect(r).toContain('ipv6 mangle -A FORWARD -o tailscale0 -p tcp -m tcp --tcp-flags SYN,RST SYN');
  });
});

describe('rule identities', () => {
  it('are stable, at most 128 characters, and hashed when long or unsafe', () => {
    expect(ruleId('g', 'dnat 1.2.3.4>5.6.7.8')).toBe('g|dnat 1.2.3.4>5.6.7.8');
    const long = ruleId('egress-'.repeat(20), 'pm x tcp:1>[fd7a:115c:a1e0::7]:80');
    expect(long.length).toBeLessThanOrEqual(MAX_ID);
    expect(long).toBe(ruleId('egress-'.repeat(20), 'pm x tcp:1>[fd7a:115c:a1e0::7]:80'));
    expect(ruleId('we"ird', 'k')).toMatch(/^we_ird\|k#[0-9a-f]{40}$/);
    expect(ruleId('a', 'k')).not.toBe(ruleId('b', 'k'));
    const w = lowerGroup('x'.repeat(200), [{ kind: 'portmap', family: 6, svc: 'y'.repeat(200), proto: 'udp', matchPort: 53, targetIP: 'fd7a:115c:a1e0:ab12:4843:cd96:6258:b240', targetPort: 53 }]);
    expect(w.rules[0].id.length).toBeLessThanOrEqual(MAX_ID);
  });
});

describe('FakeFirewall clamp recording', () => {
  it('records the addresses passed with clamp-mss, like upstream fake runner', async () => {
    const fw = new FakeFirewall();
    await fw.apply({ a: [{ kind: 'clamp-mss', family: 4, addr: '10.0.0.1' }], b: [{ kind: 'clamp-mss', family: 6, addr: '2001:db8::2' }] });
    expect(fw.clampedAddresses).toEqual(['10.0.0.1', '2001:db8::2']);
    await expect(fw.apply({ c: [{ kind: 'clamp-mss', family: 4, addr: 'fd00::1' }] })).rejects.toThrow('address "fd00::1" is not an IPv4 address');
  });
});
