// netfilter.md §4.1/§4.2 automated: real packets through rules installed by our engine running
// inside the proxy namespace, for each backend.
import { describe, expect, it } from 'vitest';
import type { ProxyRule } from '../../src/firewall/types.js';
import { BACKENDS, dumpRules, engineMode, usePacketTopology } from './helpers/netns.js';

const ingressAndHAEgress: Record<string, ProxyRule[]> = {
  // TS_DEST_IP-style ingress: tailnet → cluster backend.
  ingress: [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.2' }, { kind: 'clamp-mss', family: 4 }],
  // HA egress service: cluster → proxy pod IP:4006 → tailnet target 100.64.0.2:80, SNAT to own tailnet IP.
  'egress-svc:web': [{ kind: 'portmap', family: 4, svc: 'web', proto: 'tcp', matchPort: 4006, targetIP: '100.64.0.2', targetPort: 80 }],
  'egress-snat': [{ kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' }, { kind: 'clamp-mss', family: 4 }],
};

describe.each(BACKENDS)('packets through the %s backend', (backend) => {
  const { lab, ns, curl } = usePacketTopology(backend, async ({ lab: l, ns: n }) => {
    await l.httpServer(n.back, '192.0.2.3', 8080, 'backend2-ok');
    await l.httpServer(n.back, 'fd00:2::2', 8080, 'backend6-ok');
    await l.httpServer(n.peer, 'fd7a:115c:a1e0::2', 80, 'tailnet-target6-ok');
  });

  it('ingress DNAT, egress port map + SNAT and MSS clamping work', async () => {
    const r = await lab.runEngine(ns.proxy, { ...engineMode(backend), steps: [{ groups: ingressAndHAEgress }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });

    const ingress = await curl(ns.peer, 'http://100.64.0.1:8080/');
    expect(ingress.stdout + ingress.stderr).toBe('backend-ok saw client 100.64.0.2\n');
    const egress = await curl(ns.back, 'http://192.0.2.1:4006/');
    expect(egress.stdout + egress.stderr).toBe('tailnet-target-ok saw client 100.64.0.1\n');

    // While a slow request is open, the peer's view of the connection shows the clamped MSS
    // (tailscale0 mtu 1280 → 1240, minus 12 bytes of timestamps), not 1448.
    const slow = lab.exec(ns.peer, 'curl', ['-sS', '--max-time', '6', 'http://100.64.0.1:8080/slow'], { allowFail: true });
    let ss = { stdout: '' };
    for (let i = 0; i < 25 && !/\bmss:\d+/.test(ss.stdout); i++) {
      await new Promise((res) => setTimeout(res, 100));
      ss = await lab.exec(ns.peer, 'ss', ['-tin', 'state', 'established', 'dst', '100.64.0.1']);
    }
    await slow;
    const mss = /\bmss:(\d+)/.exec(ss.stdout)?.[1];
    expect(mss, ss.stdout).toBe('1228');
  });

  it('singleton egress (TS_TAILNET_TARGET_IP) forwards cluster traffic but not tailnet traffic to the proxy itself', async () => {
    const r = await lab.runEngine(ns.proxy, {
      ...engineMode(backend),
      steps: [
        { groups: { ingress: [], 'egress-svc:web': [], 'egress-snat': [] } },
        { proxies: { env: { TS_TAILNET_TARGET_IP: '100.64.0.2' }, addrs: ['100.64.0.1/32'] } },
      ],
    });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    expect(r.logs.some((l) => l.endsWith(' Installing forwarding rules for destination 100.64.0.2'))).toBe(true);

    const egress = await curl(ns.back, 'http://192.0.2.1:80/');
    expect(egress.stdout + egress.stderr).toBe('tailnet-target-ok saw client 100.64.0.1\n');
    // Upstream's nft oifname bug hairpinned this back to the target; with iifname it is not DNATed.
    const hairpin = await curl(ns.peer, 'http://100.64.0.1:80/');
    expect(hairpin.code).not.toBe(0);
    expect(hairpin.stdout).not.toContain('tailnet-target-ok');

    const rules = await dumpRules(lab, ns.proxy, backend);
    expect(rules).not.toContain('192.0.2.2');
    expect(rules).not.toContain('4006');
  });

  it('IPv6: ingress DNAT, bracketed port-map target and /128 SNAT carry real packets', async () => {
    const r = await lab.runEngine(ns.proxy, {
      ...engineMode(backend),
      steps: [{
        groups: {
          'proxy-tailnet-target-ip': [],
          ingress6: [{ kind: 'dnat', family: 6, dst: 'fd7a:115c:a1e0::1', to: 'fd00:2::2' }, { kind: 'clamp-mss', family: 6 }],
          'egress-svc:web6': [{ kind: 'portmap', family: 6, svc: 'web6', proto: 'tcp', matchPort: 4006, targetIP: 'fd7a:115c:a1e0::2', targetPort: 80 }],
          'egress-snat6': [{ kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::2', src: 'fd7a:115c:a1e0::1' }],
        },
      }],
    });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    const ingress = await curl(ns.peer, 'http://[fd7a:115c:a1e0::1]:8080/');
    expect(ingress.stdout + ingress.stderr).toBe('backend6-ok saw client fd7a:115c:a1e0::2\n');
    const egress = await curl(ns.back, 'http://[fd00:2::1]:4006/');
    expect(egress.stdout + egress.stderr).toBe('tailnet-target6-ok saw client fd7a:115c:a1e0::1\n');
  });

  it('load balancing spreads new connections round robin over the backends', async () => {
    const r = await lab.runEngine(ns.proxy, {
      ...engineMode(backend),
      steps: [{
        groups: {
          ingress6: [], 'egress-svc:web6': [], 'egress-snat6': [],
          lb: [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: ['192.0.2.2', '192.0.2.3'] }],
        },
      }],
    });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push((await curl(ns.peer, 'http://100.64.0.1:8080/')).stdout.split(' ')[0]);
    expect(seen.filter((x) => x === 'backend-ok')).toHaveLength(3);
    expect(seen.filter((x) => x === 'backend2-ok')).toHaveLength(3);
  });
});
