import { describe, expect, it } from 'vitest';
import { parseEgressConfigs, type EgressServiceConfig, type PortMap } from '../../src/services/egress/config.js';
import { planEgress, portMapRule, portMapUpdates, upstreamEgressDiff, type EgressPlanInput } from '../../src/services/egress/plan.js';
import { parseEgressStatus, serializeEgressStatus, type EgressServiceStatus, type EgressStatus } from '../../src/services/egress/status.js';

const tcp80: PortMap = { protocol: 'tcp', matchPort: 4003, targetPort: 80 };
const udp53: PortMap = { protocol: 'udp', matchPort: 4004, targetPort: 53 };
const tcp443: PortMap = { protocol: 'tcp', matchPort: 4005, targetPort: 443 };
const v4 = '100.99.99.99', v6 = 'fd7a:115c:a1e0::701:b62a';
const v4b = '100.88.88.88', v6b = 'fd7a:115c:a1e0::4101:512f';
const r = portMapRule('test', v4, tcp80);
const r1 = portMapRule('test', v6, tcp80);
const r2 = portMapRule('test', v4, udp53);
const r3 = portMapRule('test', v6, udp53);
const r4 = portMapRule('test', v4b, tcp80);
const r5 = portMapRule('test', v6b, tcp80);
const r6 = portMapRule('test', v4, tcp443);

function fqdnCfg(ports: PortMap[]): EgressServiceConfig {
  return { healthCheckEndpoint: '', tailnetTarget: { ip: '', fqdn: 'test' }, ports };
}
function ipCfg(ports: PortMap[]): EgressServiceConfig {
  return { healthCheckEndpoint: '', tailnetTarget: { ip: v4, fqdn: '' }, ports };
}
function rec(cfg: EgressServiceConfig, ips: string[]): EgressServiceStatus {
  return { ports: cfg.ports, tailnetTargetIPs: ips, tailnetTarget: cfg.tailnetTarget };
}

describe('portMapUpdates (upstream Test_updatesForSvc)', () => {
  const cases: [string, EgressServiceConfig, string[], EgressServiceStatus | undefined, unknown[], unknown[]][] = [
    ['new FQDN service', fqdnCfg([tcp80]), [v4, v6], undefined, [r, r1], []],
    ['unchanged FQDN service', fqdnCfg([tcp80]), [v4, v6], rec(fqdnCfg([tcp80]), [v4, v6]), [], []],
    ['ports swapped', fqdnCfg([udp53]), [v4, v6], rec(fqdnCfg([tcp80]), [v4, v6]), [r2, r3], [r, r1]],
    ['backend IPs changed', fqdnCfg([tcp80]), [v4b, v6b], rec(fqdnCfg([tcp80]), [v4, v6]), [r4, r5], [r, r1]],
    ['new IP service', ipCfg([tcp80]), [v4], undefined, [r], []],
    ['unchanged IP service', ipCfg([tcp80]), [v4], rec(ipCfg([tcp80]), [v4]), [], []],
    ['port added', ipCfg([tcp80, tcp443]), [v4], rec(ipCfg([tcp80]), [v4]), [r6], []],
    ['port removed', ipCfg([tcp80]), [v4], rec(ipCfg([tcp80, tcp443]), [v4]), [], [r6]],
  ];
  for (const [name, cfg, ips, recorded, add, del] of cases) {
    it(name, () => {
      expect(portMapUpdates('test', cfg, ips, recorded)).toEqual({ add, del });
    });
  }
  it('recorded service without backends now: deletes everything and says so', () => {
    const logs: string[] = [];
    expect(portMapUpdates('test', fqdnCfg([tcp80]), [], rec(fqdnCfg([tcp80]), [v4, v6]), logs)).toEqual({ add: [], del: [r, r1] });
    expect(logs).toEqual(['tailnet target for egress service test does not have any backend addresses, deleting all rules']);
  });
});

describe('egress status JSON', () => {
  it('is byte-exact with upstream for an FQDN service without ports and no pod IPs', () => {
    const st: EgressStatus = {
      podIPv4: '', podIPv6: '',
      services: new Map([['foo', { ports: [], tailnetTargetIPs: ['100.64.0.2'], tailnetTarget: { ip: '', fqdn: 'foo.tailnetxyz.ts.net' } }]]),
    };
    expect(serializeEgressStatus(st)).toBe('{"podIPv4":"","services":{"foo":{"ports":[],"tailnetTargetIPs":["100.64.0.2"],"tailnetTarget":{"ip":"","fqdn":"foo.tailnetxyz.ts.net"}}}}');
  });
  it('sorts service names, includes podIPv6 only when set, nil services and nil IPs as null', () => {
    const st: EgressStatus = {
      podIPv4: '10.0.0.1', podIPv6: 'fd00::1',
      services: new Map([
        ['zeta', { ports: [tcp80, udp53], tailnetTargetIPs: [], tailnetTarget: { ip: '', fqdn: 'z' } }],
        ['alpha', { ports: [], tailnetTargetIPs: ['100.64.0.9', 'fd7a:115c:a1e0::9'], tailnetTarget: { ip: '100.64.0.9', fqdn: '' } }],
      ]),
    };
    const text = serializeEgressStatus(st);
    expect(text).toBe('{"podIPv4":"10.0.0.1","podIPv6":"fd00::1","services":{"alpha":{"ports":[],"tailnetTargetIPs":["100.64.0.9","fd7a:115c:a1e0::9"],"tailnetTarget":{"ip":"100.64.0.9","fqdn":""}},"zeta":{"ports":[{"protocol":"tcp","matchPort":4003,"targetPort":80},{"protocol":"udp","matchPort":4004,"targetPort":53}],"tailnetTargetIPs":null,"tailnetTarget":{"ip":"","fqdn":"z"}}}}');
    expect(serializeEgressStatus({ podIPv4: '10.0.0.1', podIPv6: '', services: null })).toBe('{"podIPv4":"10.0.0.1","services":null}');
    // Round trip.
    expect(serializeEgressStatus(parseEgressStatus(text))).toBe(text);
  });
  it('escapes like Go (HTML-safe)', () => {
    const st: EgressStatus = { podIPv4: '', podIPv6: '', services: new Map([['a<b>&', { ports: [], tailnetTargetIPs: [], tailnetTarget: { ip: '', fqdn: 'x' } }]]) };
    expect(serializeEgressStatus(st)).toContain('"a\\u003cb\\u003e\\u0026"');
  });
});

describe('egress config validation', () => {
  const file = '/etc/proxies/egress-services';
  it('names the file and the service', () => {
    expect(() => parseEgressConfigs('{"svc-a":{"tailnetTarget":{}}}', file)).toThrow(
      'invalid egress services config /etc/proxies/egress-services: service "svc-a": unexpected egress service config- neither tailnet target IP nor FQDN is set');
    expect(() => parseEgressConfigs('{"svc-b":{"tailnetTarget":{"ip":"1.2.3"}}}', file)).toThrow(/service "svc-b": error parsing tailnet target IP/);
    expect(() => parseEgressConfigs('{"svc-c":{"tailnetTarget":{"fqdn":"x"},"ports":[{"protocol":"sctp","matchPort":1,"targetPort":2}]}}', file)).toThrow(/service "svc-c": unsupported protocol "sctp"/);
    expect(() => parseEgressConfigs('{"svc-d":{"tailnetTarget":{"fqdn":"x"},"ports":[{"protocol":"tcp","matchPort":70000,"targetPort":2}]}}', file)).toThrow(/service "svc-d": matchPort 70000 is not a port number/);
    expect(() => parseEgressConfigs('{"svc-e":', file)).toThrow(/error parsing egress services config \/etc\/proxies\/egress-services: /);
  });
  it('treats empty and null as no services, dedupes ports, matches keys like Go', () => {
    expect(parseEgressConfigs('', file).size).toBe(0);
    expect(parseEgressConfigs('null', file).size).toBe(0);
    const c = parseEgressConfigs('{"s":{"TailnetTarget":{"FQDN":"n.ts.net"},"ports":[{"protocol":"udp","matchPort":53,"targetPort":53},{"protocol":"tcp","matchPort":80,"targetPort":8080},{"protocol":"udp","matchPort":53,"targetPort":53}]}}', file);
    expect(c.get('s')).toEqual({ healthCheckEndpoint: '', tailnetTarget: { ip: '', fqdn: 'n.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 80, targetPort: 8080 }, { protocol: 'udp', matchPort: 53, targetPort: 53 }] });
    // Sorted by protocol, match port, target port, whatever the count.
    const pm = (protocol: string, matchPort: number, targetPort: number) => ({ protocol, matchPort, targetPort });
    for (const ports of [[pm('tcp', 1, 2), pm('tcp', 1, 3)], [pm('tcp', 9, 1), pm('tcp', 2, 1)], [pm('udp', 1, 1), pm('tcp', 5, 5), pm('tcp', 5, 4)]]) {
      const got = parseEgressConfigs(JSON.stringify({ s: { tailnetTarget: { ip: '100.64.0.9' }, ports } }), file).get('s')!.ports;
      expect(got).toEqual([...ports].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.matchPort - b.matchPort || a.targetPort - b.targetPort));
    }
  });
});

describe('planEgress', () => {
  const base = (over: Partial<EgressPlanInput>): EgressPlanInput => ({
    configs: new Map(), status: undefined, selfAddrs: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'], hasIPv6NAT: true,
    resolve: (f) => { if (f === 'foo.tailnetxyz.ts.net') return ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128']; throw new Error(`could not find ${f}`); },
    podIPv4: '10.0.0.1', podIPv6: '', ...over,
  });
  const foo: EgressServiceConfig = { healthCheckEndpoint: '', tailnetTarget: { ip: '', fqdn: 'foo.tailnetxyz.ts.net' }, ports: [tcp80] };

  it('nothing wanted, nothing recorded: no write, empty SNAT group', () => {
    const p = planEgress(base({}));
    expect(p.statusChanged).toBe(false);
    expect(p.groups).toEqual({});
  });
  it('new FQDN service: port maps, SNAT from own address of the same family, clamps, status', () => {
    const p = planEgress(base({ configs: new Map([['foo', foo]]) }));
    expect(p.groups['egress-svc:foo']).toEqual([
      portMapRule('foo', '100.64.0.2', tcp80), portMapRule('foo', 'fd7a:115c:a1e0::2', tcp80),
      { kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' },
      { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::2', src: 'fd7a:115c:a1e0::1' },
      { kind: 'clamp-mss', family: 4 }, { kind: 'clamp-mss', family: 6 },
    ]);
    expect(p.statusChanged).toBe(true);
    expect(serializeEgressStatus(p.status)).toBe('{"podIPv4":"10.0.0.1","services":{"foo":{"ports":[{"protocol":"tcp","matchPort":4003,"targetPort":80}],"tailnetTargetIPs":["100.64.0.2","fd7a:115c:a1e0::2"],"tailnetTarget":{"ip":"","fqdn":"foo.tailnetxyz.ts.net"}}}}');
    expect(p.resolved.get('foo.tailnetxyz.ts.net')).toEqual(['100.64.0.2/32', 'fd7a:115c:a1e0::2/128']);
  });
  it('drops IPv6 targets without IPv6 NAT, and says so for IPv6 IP targets', () => {
    const ip6: EgressServiceConfig = { healthCheckEndpoint: '', tailnetTarget: { ip: 'fd7a:115c:a1e0::5', fqdn: '' }, ports: [tcp80] };
    const p = planEgress(base({ hasIPv6NAT: false, configs: new Map([['foo', foo], ['six', ip6]]) }));
    expect(p.groups['egress-svc:foo']).toEqual([portMapRule('foo', '100.64.0.2', tcp80), { kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' }, { kind: 'clamp-mss', family: 4 }]);
    expect(p.groups['egress-svc:six']).toEqual([]);
    expect(p.logs).toContain('tailnet target is an IPv6 address, but this host does not support IPv6 in the chosen firewall mode. This will probably not work.');
    // The unfiltered resolution is remembered for resync detection.
    expect(p.resolved.get('foo.tailnetxyz.ts.net')).toHaveLength(2);
  });
  it('unresolvable FQDN and missing netmap give empty targets with upstream logs', () => {
    const bar: EgressServiceConfig = { ...foo, tailnetTarget: { ip: '', fqdn: 'bar.tailnetxyz.ts.net' } };
    const p = planEgress(base({ configs: new Map([['bar', bar]]) }));
    expect(p.logs).toEqual(['error fetching backend addresses for "bar.tailnetxyz.ts.net": could not find bar.tailnetxyz.ts.net']);
    expect(p.status.services!.get('bar')!.tailnetTargetIPs).toEqual([]);
    expect(p.resolved.get('bar.tailnetxyz.ts.net')).toEqual([]);
    const q = planEgress(base({ selfAddrs: undefined, configs: new Map([['foo', foo]]) }));
    expect(q.logs).toEqual(['netmap state is not available, unable to determine backend addresses for foo.tailnetxyz.ts.net']);
  });
  it('removed services: group emptied, their SNAT gone, status services null when nothing is left', () => {
    const first = planEgress(base({ configs: new Map([['foo', foo]]) }));
    const p = planEgress(base({ status: first.status }));
    expect(p.logs).toEqual(['service foo is no longer required, deleting']);
    expect(p.groups).toEqual({ 'egress-svc:foo': [] });
    expect(upstreamEgressDiff(base({ status: first.status })).del).toEqual([portMapRule('foo', '100.64.0.2', tcp80), portMapRule('foo', 'fd7a:115c:a1e0::2', tcp80)]);
    expect(p.statusChanged).toBe(true);
    expect(serializeEgressStatus(p.status)).toBe('{"podIPv4":"10.0.0.1","services":null}');
    // And once written, the empty status is stable.
    expect(planEgress(base({ status: p.status })).statusChanged).toBe(false);
  });
  it('each service with a common target carries the SNAT rule (own new addresses used)', () => {
    const foo2 = { ...foo, ports: [udp53] };
    const p = planEgress(base({ selfAddrs: ['100.64.0.77/32'], hasIPv6NAT: false, configs: new Map([['foo', foo], ['foo2', foo2]]) }));
    const snat = { kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.77' };
    expect(p.groups['egress-svc:foo']).toContainEqual(snat);
    expect(p.groups['egress-svc:foo2']).toContainEqual(snat);
  });
  it('no own address of the target family: no SNAT, logged', () => {
    const p = planEgress(base({ selfAddrs: ['100.64.0.1/32'], configs: new Map([['foo', foo]]) }));
    expect(p.groups['egress-svc:foo'].filter((r) => r.kind === 'snat')).toEqual([{ kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' }]);
    expect(p.logs[0]).toMatch(/^no valid local IP: invalid IP/);
  });
  it('unchanged config and status: no status change', () => {
    const first = planEgress(base({ configs: new Map([['foo', foo]]) }));
    const again = planEgress(base({ configs: new Map([['foo', foo]]), status: first.status }));
    expect(again.statusChanged).toBe(false);
    expect(upstreamEgressDiff(base({ configs: new Map([['foo', foo]]), status: first.status }))).toEqual({ add: [], del: [] });
  });
});
