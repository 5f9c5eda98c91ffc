import { afterEach, describe, expect, it } from 'vitest';
import { EgressServices } from '../../src/services/egress/runner.js';
import type { NetmapState } from '../../src/netmap/types.js';
import { collectLogs, eventually, FakeFirewall, FakeKube, netmap, node } from './fakes.js';
import { KubeletDir } from './kubeletDir.js';

const SELF = ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'];
const fooCfg = (fqdn = 'foo.tailnetxyz.ts.net', port = 80) => JSON.stringify({
  foo: { tailnetTarget: { fqdn }, ports: [{ protocol: 'tcp', matchPort: 4003, targetPort: port }] },
});

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function setup(files: Record<string, string>, nm: NetmapState, opts: { watch?: never; tickMs?: number; status?: string } = {}) {
  const dir = await KubeletDir.create(files);
  const fw = new FakeFirewall();
  const kube = new FakeKube();
  if (opts.status !== undefined) kube.data.set('egress-services', opts.status);
  const { lines, log } = collectLogs();
  const eg = new EgressServices({ settings: { egressProxiesCfgPath: dir.dir, podIPv4: '10.0.0.1', podIPv6: '' }, firewall: fw, kube, log, watch: opts.watch, tickMs: opts.tickMs });
  cleanup.push(async () => { await eg.close(); await dir.remove(); });
  let failure: Error | undefined;
  void eg.failed.then((e) => { failure = e; });
  await eg.start(nm);
  return { dir, fw, kube, lines, eg, failure: () => failure };
}

const peerFoo = (addrs = ['100.64.0.2/32']) => node('foo.tailnetxyz.ts.net.', addrs, '7');

describe('EgressServices runner', () => {
  it('first sync applies one batch and writes the status', async () => {
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]));
    expect(t.fw.batches).toHaveLength(1);
    expect(t.fw.rules('portmap')).toEqual([{ kind: 'portmap', family: 4, svc: 'foo', proto: 'tcp', matchPort: 4003, targetIP: '100.64.0.2', targetPort: 80 }]);
    expect(t.fw.rules('snat')).toEqual([{ kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' }]);
    expect(t.kube.replaces).toEqual([['egress-services', '{"podIPv4":"10.0.0.1","services":{"foo":{"ports":[{"protocol":"tcp","matchPort":4003,"targetPort":80}],"tailnetTargetIPs":["100.64.0.2"],"tailnetTarget":{"ip":"","fqdn":"foo.tailnetxyz.ts.net"}}}}']]);
  });

  it('resyncs on a kubelet ..data symlink swap', async () => {
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]));
    await t.dir.update({ 'egress-services': fooCfg('foo.tailnetxyz.ts.net', 8080) });
    await eventually(() => t.fw.rules('portmap')[0]?.targetPort === 8080);
    await t.eg.idle();
    expect(t.lines).toContain('config file change detected, ensuring firewall config is up to date...');
    expect(t.kube.replaces).toHaveLength(2);
    expect(t.kube.data.get('egress-services')).toContain('"targetPort":8080');
  });

  it('a kubelet swap to identical contents changes nothing; the next real change still applies', async () => {
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]));
    await t.dir.update({ 'egress-services': fooCfg() });
    await eventually(() => t.lines.includes('config file change detected, ensuring firewall config is up to date...'));
    await t.eg.idle();
    expect(t.fw.batches).toHaveLength(1);
    expect(t.kube.replaces).toHaveLength(1);
    await t.dir.update({ 'egress-services': fooCfg('foo.tailnetxyz.ts.net', 8080) });
    await eventually(() => t.fw.rules('portmap')[0]?.targetPort === 8080);
    await t.eg.idle();
    expect(t.fw.batches).toHaveLength(2);
    expect(t.kube.data.get('egress-services')).toContain('"targetPort":8080');
  });

  it('a bad config file keeps the rules and the status and names file and service', async () => {
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]));
    const statusBefore = t.kube.data.get('egress-services');
    await t.dir.update({ 'egress-services': JSON.stringify({ foo: { tailnetTarget: {} } }) });
    await eventually(() => t.lines.some((l) => l.includes('neither tailnet target IP nor FQDN')));
    await t.eg.idle();
    const line = t.lines.find((l) => l.includes('neither tailnet target IP nor FQDN'))!;
    expect(line).toContain(`${t.dir.dir}/egress-services`);
    expect(line).toContain('service "foo"');
    expect(t.fw.batches).toHaveLength(1);
    expect(t.kube.data.get('egress-services')).toBe(statusBefore);
    expect(t.failure()).toBeUndefined();
    // Fixing the file resumes normal operation.
    await t.dir.update({ 'egress-services': '' });
    await eventually(() => t.fw.rules('portmap').length === 0);
  });

  it('removing a service deletes its port maps and its SNAT rule', async () => {
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]));
    await t.dir.update({ 'egress-services': '{}' });
    await eventually(() => t.fw.groups.size === 0);
    await t.eg.idle();
    expect(t.lines).toContain('service foo is no longer required, deleting');
    expect(t.kube.data.get('egress-services')).toBe('{"podIPv4":"10.0.0.1","services":null}');
  });

  it('resyncs when an FQDN target moves, with one batch touching only that service and SNAT', async () => {
    const bar = node('bar.tailnetxyz.ts.net.', ['100.64.0.3/32'], '8');
    const cfg = JSON.stringify({
      foo: { tailnetTarget: { fqdn: 'foo.tailnetxyz.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 1, targetPort: 1 }] },
      bar: { tailnetTarget: { fqdn: 'bar.tailnetxyz.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 2, targetPort: 2 }] },
    });
    const t = await setup({ 'egress-services': cfg }, netmap(SELF, [peerFoo(), bar]));
    t.eg.onNetmap(netmap(SELF, [peerFoo(), bar])); // no change: no resync
    await t.eg.idle();
    expect(t.fw.batches).toHaveLength(1);
    t.eg.onNetmap(netmap(SELF, [peerFoo(['100.64.0.9/32']), bar]));
    await t.eg.idle();
    expect(t.lines).toContain('backend addresses for egress target "foo.tailnetxyz.ts.net" have changed old IPs [100.64.0.2/32], new IPs [100.64.0.9/32] trigger egress config resync');
    expect(t.fw.batches).toHaveLength(2);
    expect(Object.keys(t.fw.batches[1])).toEqual(['egress-svc:foo']);
    expect(t.fw.groups.get('egress-svc:foo')).toEqual([
      { kind: 'portmap', family: 4, svc: 'foo', proto: 'tcp', matchPort: 1, targetIP: '100.64.0.9', targetPort: 1 },
      { kind: 'snat', family: 4, dst: '100.64.0.9', src: '100.64.0.1' }, { kind: 'clamp-mss', family: 4 },
    ]);
  });

  it('resyncs on Tailscale Service and 4via6 target changes (upstream does not)', async () => {
    const cfg = JSON.stringify({ web: { tailnetTarget: { fqdn: 'web.tailnetxyz.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 1, targetPort: 80 }] } });
    const withService = (servers: number): NetmapState => {
      const nm = netmap(SELF, Array.from({ length: servers }, (_, i) => node(`p${i}.tailnetxyz.ts.net.`, [`100.64.1.${i}/32`], String(20 + i), [`100.64.1.${i}/32`, '100.99.0.1/32'])));
      nm.extraRecords = [{ Name: 'web.tailnetxyz.ts.net.', Type: 'A', Value: '100.99.0.1' }];
      return nm;
    };
    const t = await setup({ 'egress-services': cfg }, withService(0));
    expect(t.fw.rules('portmap')).toEqual([]);
    t.eg.onNetmap(withService(1));
    await t.eg.idle();
    expect(t.fw.rules('portmap').map((r) => r.targetIP)).toEqual(['100.99.0.1']);
    const via = JSON.stringify({ v: { tailnetTarget: { fqdn: '10-1-2-3-via-7.tailnetxyz.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 1, targetPort: 80 }] } });
    await t.dir.update({ 'egress-services': via });
    await eventually(() => t.lines.some((l) => l.includes('4via6') || l.includes('no peer advertises')));
    await t.eg.idle();
    const router = node('router.tailnetxyz.ts.net.', ['100.64.2.1/32'], '40', ['100.64.2.1/32', 'fd7a:115c:a1e0:b1a:0:7::/96']);
    t.eg.onNetmap(netmap(SELF, [router]));
    await t.eg.idle();
    expect(t.fw.rules('portmap').map((r) => r.targetIP)).toEqual(['fd7a:115c:a1e0:b1a:0:7:a01:203']);
  });

  it('own address change refreshes SNAT', async () => {
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]));
    t.eg.onNetmap(netmap(['100.64.0.50/32'], [peerFoo()]));
    await t.eg.idle();
    expect(t.lines).toContain('node addresses have changed, trigger egress config resync');
    expect(t.fw.rules('snat')).toEqual([{ kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.50' }]);
    expect(t.kube.replaces).toHaveLength(1); // status does not record own addresses
  });

  it('uses a stored status of this pod; ignores one written by other pod IPs', async () => {
    const own = '{"podIPv4":"10.0.0.1","services":{"old":{"ports":[{"protocol":"tcp","matchPort":9,"targetPort":9}],"tailnetTargetIPs":["100.64.0.5"],"tailnetTarget":{"ip":"100.64.0.5","fqdn":""}}}}';
    const t = await setup({ 'egress-services': '' }, netmap(SELF), { status: own });
    expect(t.lines).toContain('service old is no longer required, deleting');
    expect(t.fw.batches[0]['egress-svc:old']).toEqual([]);
    const other = own.replace('10.0.0.1', '10.0.0.99');
    const u = await setup({ 'egress-services': '' }, netmap(SELF), { status: other });
    expect(u.lines).not.toContain('service old is no longer required, deleting');
    expect(u.kube.replaces).toEqual([]);
  });

  it('falls back to a periodic sync when watching fails', async () => {
    const watch = (() => { throw new Error('inotify exhausted'); }) as never;
    const t = await setup({ 'egress-services': fooCfg() }, netmap(SELF, [peerFoo()]), { watch, tickMs: 20 });
    expect(t.lines).toContain('failed to create fsnotify watcher, timer-only mode: inotify exhausted');
    await t.dir.update({ 'egress-services': fooCfg('foo.tailnetxyz.ts.net', 81) });
    await eventually(() => t.fw.rules('portmap')[0]?.targetPort === 81);
    expect(t.lines).toContain('periodic sync, ensuring firewall config is up to date...');
  });

  it('a missing config directory and firewall errors are fatal', async () => {
    const fw = new FakeFirewall();
    const eg = new EgressServices({ settings: { egressProxiesCfgPath: '/nonexistent/egress', podIPv4: '', podIPv6: '' }, firewall: fw, log: () => {} });
    await eg.start(netmap(SELF));
    expect((await eg.failed).message).toMatch(/^failed to add fsnotify watch: /);
    const t = await setup({ 'egress-services': '' }, netmap(SELF, [peerFoo()]));
    t.fw.failNext = new Error('nft: boom');
    await t.dir.update({ 'egress-services': fooCfg() });
    expect((await t.eg.failed).message).toBe('nft: boom');
  });
});

describe('EgressServices batches', () => {
  it('sends an emptied group once, and nothing when nothing changed', async () => {
    const dir = await KubeletDir.create({ 'egress-services': fooCfg() });
    const fw = new FakeFirewall();
    const eg = new EgressServices({ settings: { egressProxiesCfgPath: dir.dir, podIPv4: '10.0.0.1', podIPv6: '' }, firewall: fw, log: () => {} });
    cleanup.push(async () => { await eg.close(); await dir.remove(); });
    await eg.start(netmap(SELF, [peerFoo()]));
    await dir.update({ 'egress-services': '{}' });
    await eventually(() => fw.batches.length === 2);
    expect(fw.batches[1]).toEqual({ 'egress-svc:foo': [] });
    await dir.update({ 'egress-services': '{} ' });
    await new Promise((r) => setTimeout(r, 100));
    await eg.idle();
    expect(fw.batches).toHaveLength(2);
  });
});
