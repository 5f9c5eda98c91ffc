import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalAPIClient } from '../../src/localapi/client.js';
import { certDomains, hasHTTPSEndpoint, HTTPS_WITHOUT_CERTS_WARNING, parseServeConfig, serviceNames } from '../../src/services/serve/config.js';
import { ServeConfigWatcher } from '../../src/services/serve/watcher.js';
import { ServiceAdvertiser } from '../../src/services/advertise.js';
import type { CertLoops } from '../../src/services/certs/loops.js';
import { FakeLocalAPIServices } from '../support/fakeLocalAPIServices.js';
import { collectLogs, eventually, FakeKube } from './fakes.js';

describe('serve config reading (upstream TestReadServeConfig / TestHasHTTPSEndpoint)', () => {
  it('reads, substitutes and rejects like upstream', () => {
    expect(parseServeConfig('', 'example.com')).toBeUndefined();
    expect(parseServeConfig('{"Web":{"${TS_CERT_DOMAIN}:443":{"Handlers":{"/":{"Proxy":"http://10.0.0.1"}}}}}', 'example.com'))
      .toEqual({ Web: { 'example.com:443': { Handlers: { '/': { Proxy: 'http://10.0.0.1' } } } } });
    expect(parseServeConfig('{"TCP":{"80":{"HTTP":true}}}', 'no-https')).toEqual({ TCP: { 80: { HTTP: true } } });
    expect(parseServeConfig('{"Web":{"foo.test:443":{}}}', '')).toEqual({ Web: { 'foo.test:443': {} } });
    expect(parseServeConfig('null', '')).toEqual({});
    expect(() => parseServeConfig('invalid json', '')).toThrow();
  });
  it('hasHTTPSEndpoint', () => {
    expect(hasHTTPSEndpoint(undefined)).toBe(false);
    expect(hasHTTPSEndpoint({})).toBe(false);
    expect(hasHTTPSEndpoint({ TCP: { 80: { HTTPS: false } } })).toBe(false);
    expect(hasHTTPSEndpoint({ TCP: { 443: { HTTPS: true } } })).toBe(true);
    expect(hasHTTPSEndpoint({ TCP: { 80: { HTTP: true }, 443: { HTTPS: true } } })).toBe(true);
  });
  it('Services and cert domains (kube/certs cases)', () => {
    const cfg = {
      Services: {
        'svc:web': { Web: { 'web.tailnet.ts.net:443': {}, 'web.tailnet.ts.net:80': {} } },
        'svc:db': { TCP: { 5432: { TerminateTLS: 'db.tailnet.ts.net' }, 22: { TCPForward: '10.0.0.1:22' } } },
      },
    };
    expect(serviceNames(cfg)).toEqual(['svc:db', 'svc:web']);
    expect(certDomains(cfg)).toEqual(['db.tailnet.ts.net', 'web.tailnet.ts.net']);
    expect(serviceNames(null)).toEqual([]);
    expect(certDomains({ Web: { 'node.ts.net:443': {} } })).toEqual([]);
  });
});

describe('ServeConfigWatcher', () => {
  let cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });

  async function setup(content: string | undefined, certDomain: string) {
    const api = await FakeLocalAPIServices.start();
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-serve-'));
    const file = path.join(dir, 'serve-config.json');
    if (content !== undefined) await writeFile(file, content);
    const client = new LocalAPIClient(api.socket);
    const kube = new FakeKube();
    const { lines, log } = collectLogs();
    const w = new ServeConfigWatcher({ settings: { serveConfigPath: file, certShareMode: '' }, client, kube, log, advertiser: new ServiceAdvertiser(client) });
    let failure: Error | undefined;
    void w.failed.then((e) => { failure = e; });
    cleanup.push(async () => { await w.close(); client.close(); await api.close(); await rm(dir, { recursive: true, force: true }); });
    w.setCertDomain(certDomain);
    await w.start();
    return { api, file, kube, lines, w, failure: () => failure };
  }
  const posts = (api: FakeLocalAPIServices) => api.of('POST', '/localapi/v0/serve-config');

  it('applies an HTTP-only config without HTTPS support and writes https_endpoint no-https', async () => {
    const t = await setup('{"TCP":{"80":{"HTTP":true}}}', 'no-https');
    expect(posts(t.api)).toHaveLength(1);
    expect(posts(t.api)[0].headers['if-match']).toBe('');
    expect((t.api.serveConfig as Record<string, unknown>)).toEqual({ TCP: { 80: { HTTP: true } } });
    expect(t.lines).toContain('serve proxy: applying serve config');
    expect(t.kube.patches).toEqual([{ https_endpoint: 'no-https' }]);
  });

  it('applies HTTPS with a cert domain, substituting it', async () => {
    const t = await setup('{"TCP":{"443":{"HTTPS":true}},"Web":{"${TS_CERT_DOMAIN}:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:8080"}}}}}', 'node.tailnet.ts.net');
    expect((t.api.serveConfig as Record<string, unknown>).Web).toHaveProperty(['node.tailnet.ts.net:443']);
    expect(t.kube.patches).toEqual([{ https_endpoint: 'node.tailnet.ts.net' }]);
  });

  it('refuses HTTPS without a cert domain with upstream\'s warning (https_endpoint still written)', async () => {
    const t = await setup('{"TCP":{"443":{"HTTPS":true}}}', 'no-https');
    expect(posts(t.api)).toHaveLength(0);
    expect(t.lines).toContain(HTTPS_WITHOUT_CERTS_WARNING);
    expect(t.kube.patches).toEqual([{ https_endpoint: 'no-https' }]);
    expect(t.failure()).toBeUndefined();
  });

  it('re-applies on file changes and cert-domain changes, not for identical content', async () => {
    const t = await setup('{"Web":{"${TS_CERT_DOMAIN}:443":{}},"TCP":{"443":{"HTTPS":true}}}', 'no-https');
    expect(posts(t.api)).toHaveLength(0);
    t.w.setCertDomain('a.ts.net');
    await eventually(() => posts(t.api).length === 1);
    expect((t.api.serveConfig as Record<string, unknown>).Web).toHaveProperty(['a.ts.net:443']);
    await writeFile(t.file, '{"Web":{"${TS_CERT_DOMAIN}:443":{}},"TCP":{"443":{"HTTPS":true}}}'); // same content
    await new Promise((r) => setTimeout(r, 150));
    await t.w.idle();
    expect(posts(t.api)).toHaveLength(1);
    await writeFile(t.file, '{"TCP":{"80":{"HTTP":true}}}');
    await eventually(() => posts(t.api).length === 2);
    expect(t.kube.patches).toEqual([{ https_endpoint: 'no-https' }, { https_endpoint: 'a.ts.net' }]);
  });

  it('missing/empty files are skipped; a broken file keeps the applied config', async () => {
    const t = await setup(undefined, 'no-https');
    expect(t.lines).toContain(`serve proxy: no serve config at "${t.file}", skipping`);
    await writeFile(t.file, '');
    await eventually(() => t.lines.includes('serve proxy: serve config file is empty, skipping'));
    await writeFile(t.file, '{"TCP":{"80":{"HTTP":true}}}');
    await eventually(() => posts(t.api).length === 1);
    await writeFile(t.file, '{"TCP":');
    await eventually(() => t.lines.some((l) => l.startsWith(`serve proxy: failed to read serve config: ${t.file}: `)));
    expect(posts(t.api)).toHaveLength(1);
    expect(t.failure()).toBeUndefined();
  });

  it('advertises the file\'s Services right after applying (upstream dead code)', async () => {
    const t = await setup('{"Services":{"svc:web":{"TCP":{"80":{"HTTP":true}}}}}', 'no-https');
    expect(t.api.prefs.AdvertiseServices).toEqual(['svc:web']);
    expect(JSON.parse(t.api.of('PATCH', '/localapi/v0/prefs')[0].body)).toEqual({ AdvertiseServices: ['svc:web'], AdvertiseServicesSet: true });
  });

  it('rw cert share: cert loops follow the HTTPS domains of the applied config', async () => {
    const api = await FakeLocalAPIServices.start();
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-serve-'));
    const file = path.join(dir, 's.json');
    await writeFile(file, JSON.stringify({ Services: { 'svc:web': { Web: { 'web.tailnet.ts.net:443': {} } }, 'svc:db': { TCP: { 5432: { TerminateTLS: 'db.tailnet.ts.net' } } } } }));
    const client = new LocalAPIClient(api.socket);
    const ensured: string[][] = [];
    const certs = { ensure: (d: string[]) => { ensured.push(d); }, close: () => {} } as unknown as CertLoops;
    const w = new ServeConfigWatcher({ settings: { serveConfigPath: file, certShareMode: 'rw' }, client, certs, log: () => {} });
    cleanup.push(async () => { await w.close(); client.close(); await api.close(); await rm(dir, { recursive: true, force: true }); });
    w.setCertDomain('node.tailnet.ts.net');
    await w.start();
    expect(ensured).toEqual([['db.tailnet.ts.net', 'web.tailnet.ts.net']]);
    await writeFile(file, JSON.stringify({ Services: { 'svc:web': { Web: { 'web.tailnet.ts.net:443': {} } } } }));
    await eventually(() => ensured.length === 2);
    expect(ensured[1]).toEqual(['web.tailnet.ts.net']);
  });

  it('a failing POST is fatal with upstream\'s message', async () => {
    const api = await FakeLocalAPIServices.start();
    api.failServePost = { status: 500, body: '{"error":"updating config: netMap is nil"}' };
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-serve-'));
    await writeFile(path.join(dir, 's.json'), '{}');
    const client = new LocalAPIClient(api.socket);
    const w = new ServeConfigWatcher({ settings: { serveConfigPath: path.join(dir, 's.json'), certShareMode: '' }, client, log: () => {} });
    cleanup.push(async () => { await w.close(); client.close(); await api.close(); await rm(dir, { recursive: true, force: true }); });
    w.setCertDomain('no-https');
    await w.start();
    expect((await w.failed).message).toBe('serve proxy: error updating serve config: updating config: netMap is nil');
  });
});
