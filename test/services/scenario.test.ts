// The services through the built binary (bin/containerboot → dist/containerboot.cjs) against the
// fake LocalAPI, the fake Kubernetes API and the in-process fake netfilter: upstream
// TestContainerBoot's egress and serve-config cases plus the pre-shutdown hook over HTTP.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';
import { goRunning, Scenario, selfNode } from '../support/harness.js';

let scn: Scenario | undefined;
let kube: FakeKubeApi | undefined;
afterEach(async () => {
  // cleanup() also ends the fake tailscaled by PID and removes the temp dir.
  await scn?.cleanup();
  await kube?.close();
  scn = undefined;
  kube = undefined;
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('services scenarios (built binary)', () => {
  it('egress services in kube mode: status Secret byte-exact, pre-shutdown hook answers', async () => {
    const port = await freePort();
    // The env is read at start(): fill it once the fake API has written its SA files under the root.
    const env: Record<string, string> = {};
    scn = new Scenario({ env });
    const cfgDir = path.join(scn.dir, 'egress');
    mkdirSync(cfgDir);
    writeFileSync(path.join(cfgDir, 'egress-services'), JSON.stringify({ foo: { tailnetTarget: { fqdn: 'foo.tailnetxyz.ts.net' } } }));
    kube = await startFakeKubeApi({ root: scn.root, secrets: { tailscale: {} } });
    Object.assign(env, kube.env, {
      TS_KUBE_SECRET: 'tailscale', TS_AUTHKEY: 'tskey-key', TS_EGRESS_PROXIES_CONFIG_PATH: cfgDir,
      TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}`, TS_TEST_SLEEP_DURATION: '1ms', TS_USERSPACE: 'false',
    });
    await scn.start();
    await scn.waitFor(() => scn!.commands().some((c) => c.startsWith('tailscale ')), 'tailscale up', 20_000);
    scn.api.peers = [{ ID: 2, StableID: 'nFoo', Name: 'foo.tailnetxyz.ts.net.', Addresses: ['100.64.0.2/32'] }];
    goRunning(scn.api, selfNode());
    await scn.waitLog('Startup complete, waiting for shutdown signal', 20_000);
    await scn.waitFor(() => kube!.secret('tailscale')?.['egress-services'] !== undefined, 'egress status', 10_000);
    expect(kube.secret('tailscale')!['egress-services']).toBe(
      '{"podIPv4":"","services":{"foo":{"ports":[],"tailnetTargetIPs":["100.64.0.2"],"tailnetTarget":{"ip":"","fqdn":"foo.tailnetxyz.ts.net"}}}}');
    expect(scn.hasLog(`configuring egress proxy using configuration file at ${cfgDir}`)).toBe(true);
    const r = await get(`http://127.0.0.1:${port}/internal-egress-services-preshutdown`);
    expect(r).toEqual({ status: 200, body: '' });
    expect(scn.hasLog('Sleeping for 10ms before shutdown to ensure that kube proxies on all nodes have updated routing configuration')).toBe(true);
  }, 60_000);

  it('serve config: cleared after login, applied from the file, https_endpoint no-https without cert domains', async () => {
    const env: Record<string, string> = {};
    scn = new Scenario({ env });
    const serveFile = path.join(scn.dir, 'serve', 'serve-config.json');
    mkdirSync(path.dirname(serveFile));
    writeFileSync(serveFile, JSON.stringify({ TCP: { 80: { HTTP: true } }, Web: { '${TS_CERT_DOMAIN}:80': { Handlers: { '/': { Proxy: 'http://127.0.0.1:8080' } } } } }));
    kube = await startFakeKubeApi({ root: scn.root, secrets: { tailscale: {} } });
    Object.assign(env, kube.env, { TS_KUBE_SECRET: 'tailscale', TS_AUTHKEY: 'tskey-key', TS_SERVE_CONFIG: serveFile });
    await scn.start();
    await scn.waitFor(() => scn!.commands().some((c) => c.startsWith('tailscale ')), 'tailscale up', 20_000);
    goRunning(scn.api, selfNode());
    await scn.waitLog('serve proxy: applying serve config', 20_000);
    await scn.waitFor(() => kube!.secret('tailscale')?.https_endpoint === 'no-https', 'https_endpoint', 10_000);
    const posts = scn.api.requests.filter((q) => q.method === 'POST' && q.path === '/localapi/v0/serve-config');
    expect(JSON.parse(posts[0]!.body)).toEqual({});
    await scn.waitFor(() => scn!.api.requests.filter((q) => q.method === 'POST' && q.path === '/localapi/v0/serve-config').length === 2, 'second POST');
    const second = scn.api.requests.filter((q) => q.method === 'POST' && q.path === '/localapi/v0/serve-config')[1]!;
    expect(JSON.parse(second.body).Web).toHaveProperty(['no-https:80']);
  }, 60_000);

  it('ingress services in kube mode: DNAT logs and ingress-config.json, following file changes', async () => {
    const env: Record<string, string> = {};
    scn = new Scenario({ env });
    const file = path.join(scn.dir, 'ingress', 'ingress-config.json');
    mkdirSync(path.dirname(file));
    writeFileSync(file, JSON.stringify({ 'svc:foo': { IPv4Mapping: { TailscaleServiceIP: '100.99.0.1', ClusterIP: '10.1.0.1' } } }));
    kube = await startFakeKubeApi({ root: scn.root, secrets: { tailscale: {} } });
    Object.assign(env, kube.env, {
      TS_KUBE_SECRET: 'tailscale', TS_AUTHKEY: 'tskey-key', TS_INGRESS_PROXIES_CONFIG_PATH: file, POD_IPS: '10.0.0.2', TS_USERSPACE: 'false',
    });
    await scn.start();
    await scn.waitFor(() => scn!.commands().some((c) => c.startsWith('tailscale ')), 'tailscale up', 20_000);
    goRunning(scn.api, selfNode());
    await scn.waitLog('adding DNAT rule for Tailscale Service svc:foo with IP 100.99.0.1 to Kubernetes Service IP 10.1.0.1', 20_000);
    await scn.waitFor(() => kube!.secret('tailscale')?.['ingress-config.json'] !== undefined, 'ingress status', 10_000);
    expect(kube.secret('tailscale')!['ingress-config.json']).toBe(
      '{"configs":{"svc:foo":{"IPv4Mapping":{"TailscaleServiceIP":"100.99.0.1","ClusterIP":"10.1.0.1"}}},"podIPv4":"10.0.0.2"}');
    writeFileSync(file, JSON.stringify({ 'svc:foo': { IPv4Mapping: { TailscaleServiceIP: '100.99.0.1', ClusterIP: '10.1.0.9' } } }));
    await scn.waitLog('deleting DNAT rule for Tailscale Service svc:foo with IP 100.99.0.1 to Kubernetes Service IP 10.1.0.1');
    await scn.waitLog('adding DNAT rule for Tailscale Service svc:foo with IP 100.99.0.1 to Kubernetes Service IP 10.1.0.9');
    await scn.waitFor(() => kube!.secret('tailscale')!['ingress-config.json']!.includes('10.1.0.9'), 'updated ingress status');
  }, 60_000);

  it('pre-shutdown hook over HTTP waits until the health endpoint stops answering as this Pod', async () => {
    let calls = 0;
    const health = http.createServer((_req, res) => {
      calls++;
      res.setHeader('Pod-IPv4', calls <= 3 ? '10.0.0.1' : '10.0.0.7');
      res.end('ok');
    });
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    const hport = (health.address() as AddressInfo).port;
    try {
      const port = await freePort();
      const env: Record<string, string> = {};
      scn = new Scenario({ env });
      const cfgDir = path.join(scn.dir, 'egress');
      mkdirSync(cfgDir);
      writeFileSync(path.join(cfgDir, 'egress-services'), JSON.stringify({
        foo: { healthCheckEndpoint: `http://127.0.0.1:${hport}/healthz`, tailnetTarget: { ip: '100.64.0.2' }, ports: [{ protocol: 'tcp', matchPort: 8080, targetPort: 80 }] },
      }));
      writeFileSync(path.join(cfgDir, 'hep-pings'), '2');
      kube = await startFakeKubeApi({ root: scn.root, secrets: { tailscale: {} } });
      Object.assign(env, kube.env, {
        TS_KUBE_SECRET: 'tailscale', TS_AUTHKEY: 'tskey-key', TS_EGRESS_PROXIES_CONFIG_PATH: cfgDir, POD_IPS: '10.0.0.1',
        TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}`, TS_TEST_SLEEP_DURATION: '5ms', TS_USERSPACE: 'false',
      });
      await scn.start();
      await scn.waitFor(() => scn!.commands().some((c) => c.startsWith('tailscale ')), 'tailscale up', 20_000);
      goRunning(scn.api, selfNode());
      await scn.waitFor(() => kube!.secret('tailscale')?.['egress-services'] !== undefined, 'egress status', 20_000);
      expect(kube.secret('tailscale')!['egress-services']).toBe(
        '{"podIPv4":"10.0.0.1","services":{"foo":{"ports":[{"protocol":"tcp","matchPort":8080,"targetPort":80}],"tailnetTargetIPs":["100.64.0.2"],"tailnetTarget":{"ip":"100.64.0.2","fqdn":""}}}}');
      const r = await get(`http://127.0.0.1:${port}/internal-egress-services-preshutdown`);
      expect(r).toEqual({ status: 200, body: '' });
      expect(calls).toBeGreaterThanOrEqual(4);
      expect(scn.hasLog('service "foo" is no longer routed through this Pod')).toBe(true);
      expect(scn.hasLog('Sleeping for 50ms before shutdown to ensure that kube proxies on all nodes have updated routing configuration')).toBe(true);
    } finally {
      await new Promise((r) => health.close(r));
    }
  }, 60_000);
});
