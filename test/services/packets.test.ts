// HA services with real packets (issue #6): the egress and ingress planners' rule groups, applied by
// the real engine inside the proxy namespace of the firewall packet-test topology
// (test/firewall/helpers/netns.ts: peer 100.64.0.2 ↔ proxy tailscale0 100.64.0.1 / eth0 192.0.2.1 ↔
// cluster backend 192.0.2.2).
import { describe, expect, it } from 'vitest';
import { parseEgressConfigs } from '../../src/services/egress/config.js';
import { planEgress } from '../../src/services/egress/plan.js';
import { parseIngressConfigs } from '../../src/services/ingress/config.js';
import { planIngress } from '../../src/services/ingress/plan.js';
import { BACKENDS, engineMode, usePacketTopology } from '../firewall/helpers/netns.js';

const EGRESS = JSON.stringify({ web: { tailnetTarget: { fqdn: 'web.tailnet.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 4006, targetPort: 80 }] } });
const INGRESS = JSON.stringify({ 'svc:web': { IPv4Mapping: { TailscaleServiceIP: '100.100.0.5', ClusterIP: '192.0.2.2' } } });

function egressPlan(configText: string, status?: ReturnType<typeof planEgress>['status']) {
  return planEgress({
    configs: parseEgressConfigs(configText, '/etc/proxies/egress-services'),
    status,
    selfAddrs: ['100.64.0.1/32'],
    hasIPv6NAT: true,
    resolve: (fqdn) => (fqdn === 'web.tailnet.ts.net' ? ['100.64.0.2/32'] : []),
    podIPv4: '192.0.2.1',
    podIPv6: '',
  });
}

describe.each(BACKENDS)('HA services through the %s backend', (backend) => {
  // The Tailscale Service VIP is routed to the proxy, as tailscaled's routes would.
  const { lab, ns, curl } = usePacketTopology(backend, async ({ lab: l, ns: n }) => {
    await l.exec(n.peer, 'ip', ['route', 'add', '100.100.0.5/32', 'via', '100.64.0.1']);
  });

  it('an egress service port reaches its tailnet target, and stops once the service is removed', async () => {
    const added = egressPlan(EGRESS);
    let r = await lab.runEngine(ns.proxy, { ...engineMode(backend), steps: [{ groups: added.groups }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    const via = await curl(ns.back, 'http://192.0.2.1:4006/');
    expect(via.stdout + via.stderr).toBe('tailnet-target-ok saw client 100.64.0.1\n');

    // Config without the service, planned against the stored status: its group is emptied. The
    // engine runs in a new process, as after a config change picked up by a restarted container.
    const removed = egressPlan('{}', added.status);
    expect(removed.logs).toContain('service web is no longer required, deleting');
    r = await lab.runEngine(ns.proxy, { ...engineMode(backend), steps: [{ groups: removed.groups }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    const after = await curl(ns.back, 'http://192.0.2.1:4006/');
    expect(after.code).not.toBe(0);
    expect(after.stdout).not.toContain('tailnet-target-ok');
  });

  it('an ingress service mapping reaches the cluster IP', async () => {
    const plan = planIngress(parseIngressConfigs(INGRESS, '/etc/proxies/ingress-config.json'), undefined, '192.0.2.1', '');
    const r = await lab.runEngine(ns.proxy, { ...engineMode(backend), steps: [{ groups: plan.groups }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    const res = await curl(ns.peer, 'http://100.100.0.5:8080/');
    expect(res.stdout + res.stderr).toBe('backend-ok saw client 100.64.0.2\n');
  });
});
