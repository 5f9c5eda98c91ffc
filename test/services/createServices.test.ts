import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type http from 'node:http';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalAPIClient } from '../../src/localapi/client.js';
import type { Settings } from '../../src/settings/types.js';
import { createServices } from '../../src/services/index.js';
import { FakeLocalAPIServices } from '../support/fakeLocalAPIServices.js';
import { collectLogs, eventually, FakeFirewall, FakeKube, netmap, node } from './fakes.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });

async function setup(files: Record<string, string>, over: (dir: string) => Partial<Settings> = () => ({})) {
  const api = await FakeLocalAPIServices.start();
  const dir = await mkdtemp(path.join(tmpdir(), 'cb-services-'));
  for (const [n, v] of Object.entries(files)) await writeFile(path.join(dir, n), v);
  const client = new LocalAPIClient(api.socket);
  const fw = new FakeFirewall();
  const kube = new FakeKube();
  const failures: Error[] = [];
  const { lines, log } = collectLogs();
  const settings = {
    serveConfigPath: '', egressProxiesCfgPath: '', ingressProxiesCfgPath: '', certShareMode: '', podIPv4: '10.0.0.1', podIPv6: '', testSleepMs: 1,
    ...over(dir),
  } as unknown as Settings;
  const svc = await createServices({ settings, client, kube, firewall: fw, fail: (e) => failures.push(e) }, { env: {}, log, unadvertiseWaitMs: 10 });
  cleanup.push(async () => { svc.close(); client.close(); await api.close(); await rm(dir, { recursive: true, force: true }); });
  return { api, dir, fw, kube, failures, lines, svc };
}

function fakeReq(): http.IncomingMessage {
  return { socket: new EventEmitter() } as unknown as http.IncomingMessage;
}

describe('createServices (orchestrator glue)', () => {
  it('serve config + advertisement start at the first netmap without blocking it', async () => {
    const t = await setup({ 'serve.json': '{"Services":{"svc:web":{"TCP":{"80":{"HTTP":true}}}}}' }, (dir) => ({ serveConfigPath: path.join(dir, 'serve.json') }));
    const nm = netmap(['100.64.0.1/32']);
    nm.certDomains = ['node.tailnet.ts.net'];
    const t0 = Date.now();
    await t.svc.onNetmap(nm);
    expect(Date.now() - t0).toBeLessThan(1_000);
    await eventually(() => t.api.of('POST', '/localapi/v0/serve-config').length === 1);
    await eventually(() => t.kube.patches.length === 1);
    expect(t.kube.patches[0]).toEqual({ https_endpoint: 'node.tailnet.ts.net' });
    await eventually(() => JSON.stringify(t.api.prefs.AdvertiseServices) === '["svc:web"]');
    // More netmaps: no new PATCH since the set is unchanged.
    await t.svc.onNetmap(nm);
    await t.svc.onNetmap(nm);
    await new Promise((r) => setTimeout(r, 100));
    expect(t.api.of('PATCH', '/localapi/v0/prefs')).toHaveLength(1);
    expect(t.failures).toEqual([]);
    // Shutdown unadvertises.
    await t.svc.onShutdown(new AbortController().signal);
    expect(t.api.prefs.AdvertiseServices).toBeNull();
  }, 10_000);

  it('egress + ingress end to end through the glue', async () => {
    const api = await FakeLocalAPIServices.start();
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-services-'));
    await writeFile(path.join(dir, 'egress-services'), JSON.stringify({ foo: { tailnetTarget: { fqdn: 'foo.tailnetxyz.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 4003, targetPort: 80 }] } }));
    await writeFile(path.join(dir, 'ingress.json'), JSON.stringify({ 'svc:in': { IPv4Mapping: { TailscaleServiceIP: '100.99.0.1', ClusterIP: '10.1.0.1' } } }));
    const client = new LocalAPIClient(api.socket);
    const fw = new FakeFirewall();
    const kube = new FakeKube();
    const failures: Error[] = [];
    const { lines, log } = collectLogs();
    const settings = { serveConfigPath: '', egressProxiesCfgPath: dir, ingressProxiesCfgPath: path.join(dir, 'ingress.json'), certShareMode: '', podIPv4: '10.0.0.1', podIPv6: '', testSleepMs: 1 } as unknown as Settings;
    const svc = await createServices({ settings, client, kube, firewall: fw, fail: (e) => failures.push(e) }, { env: {}, log });
    cleanup.push(async () => { svc.close(); client.close(); await api.close(); await rm(dir, { recursive: true, force: true }); });

    expect((await svc.preshutdownRoute!.handler(fakeReq())).status).toBe(200);
    const nm = netmap(['100.64.0.1/32'], [node('foo.tailnetxyz.ts.net.', ['100.64.0.2/32'], '5')]);
    await svc.onNetmap(nm);
    await svc.onStartupComplete();
    expect(lines).toContain(`configuring egress proxy using configuration file at ${dir}`);
    expect(lines).toContain(`configuring ingress proxy using configuration file at ${path.join(dir, 'ingress.json')}`);
    await eventually(() => fw.rules('portmap').length === 1 && fw.rules('svc-dnat').length === 1);
    await eventually(() => kube.data.has('egress-services') && kube.data.has('ingress-config.json'));
    // A netmap moving the target reaches the egress runner.
    await svc.onNetmap(netmap(['100.64.0.1/32'], [node('foo.tailnetxyz.ts.net.', ['100.64.0.3/32'], '5')]));
    await eventually(() => fw.rules('portmap')[0]?.targetIP === '100.64.0.3');
    // A firewall failure ends containerboot with the prefixed message.
    fw.failNext = new Error('nft: boom');
    await svc.onNetmap(netmap(['100.64.0.9/32'], [node('foo.tailnetxyz.ts.net.', ['100.64.0.3/32'], '5')]));
    await eventually(() => failures.length === 1);
    expect(failures[0].message).toBe('egress proxy failed: nft: boom');
  });

  it('pre-shutdown route: 500 with a newline for a broken config, Go http.Error style', async () => {
    const t = await setup({ 'egress-services': '{bad' }, (dir) => ({ egressProxiesCfgPath: dir }));
    const r = await t.svc.preshutdownRoute!.handler(fakeReq());
    expect(r.status).toBe(500);
    expect(String(r.body)).toMatch(/^error retrieving egress services configs: error parsing egress services config .*\n$/);
    expect(r.headers?.['Content-Type']).toBe('text/plain; charset=utf-8');
  });
});
