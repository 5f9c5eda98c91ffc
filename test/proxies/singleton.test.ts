import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeFirewall } from '../../src/firewall/index.js';
import { setLogSink } from '../../src/log.js';
import { emptyNetmap, type NetmapState, type NodeInfo } from '../../src/netmap/types.js';
import { settingsFromEnv } from '../../src/settings/fromEnv.js';
import { backoffMs } from '../../src/proxies/rules.js';
import { SingletonProxies } from '../../src/proxies/singleton.js';

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  setLogSink((l) => lines.push(l.replace(/^boot: \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').trimEnd()));
});
afterEach(() => {
  vi.useRealTimers();
});

function settings(env: Record<string, string>) {
  return settingsFromEnv({ TS_USERSPACE: 'false', ...env }).settings;
}

function netmap(selfAddrs: string[], peers: NodeInfo[] = []): NetmapState {
  const s = emptyNetmap();
  s.self = { id: '1', stableID: 'nSELF', name: 'self.tailnet.ts.net.', key: 'k', addresses: selfAddrs, allowedIPs: selfAddrs };
  for (const p of peers) s.peersByID.set(p.id, p);
  return s;
}

const peer = (id: string, name: string, addresses: string[]): NodeInfo => ({ id, stableID: `s${id}`, name, key: id, addresses, allowedIPs: addresses });
const noForwarding = async () => undefined;

describe('SingletonProxies', () => {
  it('TS_DEST_IP installs DNAT + clamp once, and replaces it when own IPs change', async () => {
    const fw = new FakeFirewall();
    const p = new SingletonProxies({ settings: settings({ TS_DEST_IP: '10.0.0.5' }), firewall: fw });
    await p.onNetmap(netmap(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']));
    await p.onNetmap(netmap(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']));
    let r = fw.rules();
    expect(r.filter((l) => l.includes('DNAT'))).toHaveLength(1);
    expect(r.some((l) => l.includes('-d 100.64.0.1/32') && l.includes('--to-destination 10.0.0.5'))).toBe(true);
    expect(r.filter((l) => l.includes('TCPMSS'))).toHaveLength(2);
    expect(lines.filter((l) => l === 'Installing proxy rules')).toHaveLength(1);
    await p.onNetmap(netmap(['100.64.0.9/32']));
    r = fw.rules();
    expect(r.filter((l) => l.includes('DNAT'))).toHaveLength(1);
    expect(r.some((l) => l.includes('-d 100.64.0.9/32'))).toBe(true);
    p.close();
  });

  it('TS_DEST_IP with no own IP of that family is fatal with upstream text, and warns about issue 12156', async () => {
    const p = new SingletonProxies({ settings: settings({ TS_DEST_IP: 'fd00::5' }), firewall: new FakeFirewall() });
    await expect(p.onNetmap(netmap(['100.64.0.1/32']))).rejects.toThrow(
      'installing ingress proxy rules: no tailscale IP matching family of fd00::5 found in [100.64.0.1/32]');
    expect(lines.some((l) => l.includes('issues/12156'))).toBe(true);
  });

  it('TS_TAILNET_TARGET_IP installs DNAT for non-tailnet traffic, SNAT and clamp', async () => {
    const fw = new FakeFirewall();
    const p = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_IP: '100.64.0.2' }), firewall: fw });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    const r = fw.rules().join('\n');
    expect(r).toContain('! -i tailscale0');
    expect(r).toContain('-j DNAT --to-destination 100.64.0.2');
    expect(r).toContain('-d 100.64.0.2/32');
    expect(r).toContain('-j SNAT --to-source 100.64.0.1');
    expect(lines).toContain('Installing forwarding rules for destination 100.64.0.2');
  });

  it('TS_TAILNET_TARGET_FQDN: resolution failure logs and keeps going; later netmaps install', async () => {
    const fw = new FakeFirewall(false);
    const p = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_FQDN: 'foo.tailnet.ts.net' }), firewall: fw });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    expect(lines.some((l) => l.startsWith('could not find Tailscale node, service or 4via6 address "foo.tailnet.ts.net"'))).toBe(true);
    expect(fw.rules()).toEqual([]);
    await p.onNetmap(netmap(['100.64.0.1/32'], [peer('2', 'foo.tailnet.ts.net.', ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128'])]));
    expect(lines).toContain('Installing forwarding rules for destination 100.64.0.2');
    // No IPv6 NAT: the v6 address is skipped.
    expect(lines.some((l) => l.includes('fd7a:115c:a1e0::2'))).toBe(false);
    expect(fw.rules().some((l) => l.includes('SNAT --to-source 100.64.0.1'))).toBe(true);
    // Target moves: stale rules are removed.
    await p.onNetmap(netmap(['100.64.0.1/32'], [peer('2', 'foo.tailnet.ts.net.', ['100.64.0.3/32'])]));
    const r = fw.rules().join('\n');
    expect(r).not.toContain('100.64.0.2');
    expect(r).toContain('--to-destination 100.64.0.3');
  });

  it('TS_TAILNET_TARGET_FQDN with only IPv6 and no IPv6 NAT is fatal with upstream text', async () => {
    const p = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_FQDN: 'foo.tailnet.ts.net' }), firewall: new FakeFirewall(false) });
    await expect(p.onNetmap(netmap(['100.64.0.1/32'], [peer('2', 'foo.tailnet.ts.net.', ['fd7a:115c:a1e0::2/128'])]))).rejects.toThrow(
      'no forwarding rules for egress addresses [fd7a:115c:a1e0::2/128], host supports IPv6: false');
  });

  it('cluster traffic via ingress DNATs POD_IP to the own tailnet IP, without clamp', async () => {
    const fw = new FakeFirewall();
    const p = new SingletonProxies({
      settings: settings({ EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS: 'true', TS_SERVE_CONFIG: '/x/serve.json', POD_IP: '10.1.2.3' }),
      firewall: fw,
    });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    const r = fw.rules();
    expect(lines).toContain("installing rules to forward traffic for 10.1.2.3 to node's tailnet IP");
    expect(r.some((l) => l.includes('-d 10.1.2.3/32') && l.includes('--to-destination 100.64.0.1'))).toBe(true);
    expect(r.some((l) => l.includes('TCPMSS'))).toBe(false);
  });

  it('DNS name: installs round robin per family, re-resolves every 10 min, backs off 1 s, 2 s, 4 s on failure', async () => {
    vi.useFakeTimers();
    const fw = new FakeFirewall();
    let answer: { v4: string[]; v6: string[] } | Error = { v4: ['10.0.0.1', '10.0.0.2'], v6: ['fd00::1'] };
    const resolveDNS = vi.fn(async () => { if (answer instanceof Error) throw answer; return answer; });
    const p = new SingletonProxies({ settings: settings({ TS_EXPERIMENTAL_DEST_DNS_NAME: 'backend.example' }), firewall: fw, resolveDNS, ensureForwarding: noForwarding });
    await p.onNetmap(netmap(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']));
    expect(lines).toContain('installing ingress proxy rules for backends [10.0.0.1 10.0.0.2 fd00::1]');
    expect(lines).toContain('reconfigureTimer: next DNS resolution attempt in 10m0s');
    let r = fw.rules().join('\n');
    expect(r).toContain('--every 2 --packet 0');
    expect(r).toContain('-d fd7a:115c:a1e0::1/128');
    expect(r).toContain('--to-destination fd00::1');

    answer = new Error('lookup failed');
    lines = [];
    await vi.advanceTimersByTimeAsync(10 * 60 * 1000);
    expect(lines).toContain('[unexpected] error resolving DNS name backend.example: lookup failed');
    expect(lines).toContain('reconfigureTimer: last DNS resolution attempt failed, next DNS resolution attempt in 1s');
    await vi.advanceTimersByTimeAsync(1000);
    expect(lines).toContain('reconfigureTimer: last DNS resolution attempt failed, next DNS resolution attempt in 2s');
    await vi.advanceTimersByTimeAsync(2000);
    expect(lines).toContain('reconfigureTimer: last DNS resolution attempt failed, next DNS resolution attempt in 4s');

    answer = { v4: ['10.0.0.3'], v6: [] };
    lines = [];
    await vi.advanceTimersByTimeAsync(4000);
    expect(lines).toContain('Backend address change detected, installing proxy rules for backends [10.0.0.3]');
    expect(lines).toContain('reconfigureTimer: next DNS resolution attempt in 10m0s');
    r = fw.rules().join('\n');
    expect(r).toContain('--to-destination 10.0.0.3');
    expect(r).not.toContain('10.0.0.1');
    expect(r).not.toContain('fd00::1');
    p.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('DNS name: rules follow an own-address change even when the backends did not change', async () => {
    const fw = new FakeFirewall();
    const resolveDNS = async () => ({ v4: ['10.0.0.1'], v6: [] });
    const p = new SingletonProxies({ settings: settings({ TS_EXPERIMENTAL_DEST_DNS_NAME: 'b.example' }), firewall: fw, resolveDNS, ensureForwarding: noForwarding });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    await p.onNetmap(netmap(['100.64.0.7/32']));
    const r = fw.rules().join('\n');
    expect(r).toContain('-d 100.64.0.7/32');
    expect(r).not.toContain('-d 100.64.0.1/32');
    expect(lines.filter((l) => l.startsWith('installing ingress proxy rules for backends'))).toHaveLength(1);
    p.close();
  });

  it('DNS name: a resolution failure on a netmap logs, schedules a 1 s retry and installs nothing', async () => {
    vi.useFakeTimers();
    const fw = new FakeFirewall();
    const resolveDNS = async () => { throw new Error('error looking up IPv4 addresses: boom'); };
    const p = new SingletonProxies({ settings: settings({ TS_EXPERIMENTAL_DEST_DNS_NAME: 'b.example' }), firewall: fw, resolveDNS, ensureForwarding: noForwarding });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    expect(lines).toContain('[unexpected] error resolving DNS name b.example: error looking up IPv4 addresses: boom');
    expect(lines).toContain('reconfigureTimer: last DNS resolution attempt failed, next DNS resolution attempt in 1s');
    expect(fw.rules()).toEqual([]);
    p.close();
  });

  it('the first install removes rules of singleton proxies configured by an earlier run', async () => {
    const fw = new FakeFirewall();
    const old = new SingletonProxies({ settings: settings({ TS_DEST_IP: '10.0.0.5' }), firewall: fw });
    await old.onNetmap(netmap(['100.64.0.1/32']));
    old.close();
    const p = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_IP: '100.64.0.2' }), firewall: fw });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    const r = fw.rules().join('\n');
    expect(r).not.toContain('10.0.0.5');
    expect(r).toContain('--to-destination 100.64.0.2');
  });

  it('DNS name: an install failure from the timer is reported through fail() with upstream text', async () => {
    vi.useFakeTimers();
    const fw = new FakeFirewall();
    let answer = { v4: ['10.0.0.1'], v6: [] as string[] };
    const failures: string[] = [];
    const p = new SingletonProxies({
      settings: settings({ TS_EXPERIMENTAL_DEST_DNS_NAME: 'b.example' }), firewall: fw, ensureForwarding: noForwarding,
      resolveDNS: async () => answer, fail: (e) => failures.push(e.message),
    });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    fw.apply = async () => { throw new Error('kernel says no'); };
    answer = { v4: ['10.0.0.2'], v6: [] };
    await vi.advanceTimersByTimeAsync(10 * 60 * 1000);
    expect(failures).toEqual(['installing ingress proxy rules for DNS target b.example: kernel says no']);
    p.close();
  });

  it('TS_TAILNET_TARGET_FQDN: a Tailscale Service VIP and a 4via6 name install egress rules', async () => {
    const fw = new FakeFirewall();
    const svcPeer: NodeInfo = { id: '3', stableID: 's3', name: 'host.tailnet.ts.net.', key: '3', addresses: ['100.64.0.3/32'], allowedIPs: ['100.64.0.3/32', '100.99.10.20/32'] };
    const nm = netmap(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'], [svcPeer]);
    nm.extraRecords = [{ Name: 'web.tailnet.ts.net.', Type: 'A', Value: '100.99.10.20' }];
    const p = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_FQDN: 'web.tailnet.ts.net' }), firewall: fw });
    await p.onNetmap(nm);
    expect(lines).toContain('Installing forwarding rules for destination 100.99.10.20');
    expect(fw.rules().some((l) => l.includes('SNAT --to-source 100.64.0.1') && l.includes('-d 100.99.10.20/32'))).toBe(true);

    const fw6 = new FakeFirewall();
    const router: NodeInfo = { id: '4', stableID: 's4', name: 'router.tailnet.ts.net.', key: '4', addresses: ['100.64.0.4/32'], allowedIPs: ['100.64.0.4/32', 'fd7a:115c:a1e0:b1a:0:7::/96'] };
    const p6 = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_FQDN: '10-1-2-3-via-7.tailnet.ts.net' }), firewall: fw6 });
    await p6.onNetmap(netmap(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'], [router]));
    expect(lines).toContain('Installing forwarding rules for destination fd7a:115c:a1e0:b1a:0:7:a01:203');
    const r6 = fw6.rules().join('\n');
    expect(r6).toContain('-d fd7a:115c:a1e0:b1a:0:7:a01:203/128');
    expect(r6).toContain('-j SNAT --to-source fd7a:115c:a1e0::1');
  });

  it('cluster traffic via ingress with an IPv6 POD_IP and no own IPv6 is fatal with upstream text', async () => {
    const p = new SingletonProxies({
      settings: settings({ EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS: 'true', TS_SERVE_CONFIG: '/x/serve.json', POD_IP: 'fd00::9' }),
      firewall: new FakeFirewall(),
    });
    await expect(p.onNetmap(netmap(['100.64.0.1/32']))).rejects.toThrow(
      "installing rules to forward traffic to node's tailnet IP: no tailscale IP matching family of fd00::9 found in [100.64.0.1/32]");
  });

  it('TS_TAILNET_TARGET_IP: IPv6 target without IPv6 NAT fails at install, like upstream', async () => {
    const p = new SingletonProxies({ settings: settings({ TS_TAILNET_TARGET_IP: 'fd7a:115c:a1e0::2' }), firewall: new FakeFirewall(false) });
    await expect(p.onNetmap(netmap(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']))).rejects.toThrow(/^installing egress proxy rules: IPv6 rules requested/);
  });

  it('backoff is capped at 10 minutes', () => {
    expect([0, 1, 2, 3].map(backoffMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(9)).toBe(512_000);
    expect(backoffMs(10)).toBe(600_000);
    expect(backoffMs(100)).toBe(600_000);
  });

  it('applies one batch per netmap and none when nothing changed', async () => {
    const fw = new FakeFirewall();
    const spy = vi.spyOn(fw, 'apply');
    const p = new SingletonProxies({ settings: settings({ TS_DEST_IP: '10.0.0.5', TS_TAILNET_TARGET_IP: '100.64.0.2' }), firewall: fw });
    await p.onNetmap(netmap(['100.64.0.1/32']));
    expect(spy).toHaveBeenCalledTimes(1);
    await p.onNetmap(netmap(['100.64.0.1/32']));
    expect(spy).toHaveBeenCalledTimes(1);
  });
});
