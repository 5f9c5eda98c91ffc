// `containerboot health` (the image's HEALTHCHECK) against the fake LocalAPI and a real /healthz
// server built from containerboot's own route, in-process.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { health, judgeStatus, planProbe } from '../../src/cli/health.js';
import { settingsFromEnv } from '../../src/settings/fromEnv.js';
import { healthRoute } from '../../src/http/endpoints.js';
import { startServer } from '../../src/http/server.js';
import { FakeLocalAPI } from '../support/fakeLocalAPI.js';

const plan = (env: Record<string, string>) => planProbe(settingsFromEnv(env).settings);

/** Runs health() and returns its exit code and everything it wrote. */
async function runHealth(env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => { out += String(c); return true; });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => { err += String(c); return true; });
  try {
    return { code: await health([], env), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

describe('which check the settings call for', () => {
  it('LocalAPI status on the default socket, or TS_SOCKET', () => {
    expect(plan({})).toEqual({ kind: 'localapi', socket: '/tmp/tailscaled.sock' });
    expect(plan({ TS_SOCKET: '/run/ts/sock' })).toEqual({ kind: 'localapi', socket: '/run/ts/sock' });
  });
  it('/healthz on TS_LOCAL_ADDR_PORT (loopback for an unspecified address) when TS_ENABLE_HEALTH_CHECK is on', () => {
    expect(plan({ TS_ENABLE_HEALTH_CHECK: 'true' })).toMatchObject({ kind: 'healthz', url: 'http://127.0.0.1:9002/healthz' });
    expect(plan({ TS_ENABLE_HEALTH_CHECK: '1', TS_LOCAL_ADDR_PORT: '0.0.0.0:8080' })).toMatchObject({ url: 'http://127.0.0.1:8080/healthz' });
    expect(plan({ TS_ENABLE_HEALTH_CHECK: 'true', TS_LOCAL_ADDR_PORT: '[::1]:9' })).toMatchObject({ host: '::1', port: 9, url: 'http://[::1]:9/healthz' });
    expect(plan({ TS_ENABLE_HEALTH_CHECK: 'false' })).toMatchObject({ kind: 'localapi' });
  });
  it('the deprecated TS_HEALTHCHECK_ADDR_PORT', () => {
    expect(plan({ TS_HEALTHCHECK_ADDR_PORT: '10.1.2.3:9999' })).toMatchObject({ kind: 'healthz', host: '10.1.2.3', port: 9999 });
  });
  it('judges BackendState', () => {
    expect(judgeStatus({ BackendState: 'Running' }).ok).toBe(true);
    expect(judgeStatus({ BackendState: 'NeedsLogin' })).toEqual({ ok: false, reason: "tailscaled's BackendState is NeedsLogin, not Running" });
    expect(judgeStatus(null).reason).toContain('unknown');
  });
});

describe('containerboot health', () => {
  it('follows the fake LocalAPI: 1 until Running, then 0', async () => {
    const sock = path.join(mkdtempSync(path.join(tmpdir(), 'cb-health-')), 'tailscaled.sock');
    const api = new FakeLocalAPI(sock);
    await api.listen();
    cleanups.push(() => api.close());
    const env = { TS_SOCKET: sock };
    let r = await runHealth(env);
    expect(r).toEqual({ code: 1, out: '', err: "unhealthy: tailscaled's BackendState is NeedsLogin, not Running\n" });
    api.setState('Running');
    r = await runHealth(env);
    expect(r).toEqual({ code: 0, out: 'healthy: tailscaled is Running\n', err: '' });
    expect(api.requests.some((q) => q.path.startsWith('/localapi/v0/status'))).toBe(true);
  });
  it('names the socket when tailscaled is not there', async () => {
    const sock = path.join(mkdtempSync(path.join(tmpdir(), 'cb-health-')), 'absent.sock');
    const r = await runHealth({ TS_SOCKET: sock });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^unhealthy: cannot read tailscaled's status from its LocalAPI at ${sock}: .*ENOENT.*\\n$`));
  });
  it('uses /healthz when TS_ENABLE_HEALTH_CHECK is on', async () => {
    let healthy = false;
    const port = await freePort();
    const srv = await startServer(`127.0.0.1:${port}`, [healthRoute(() => healthy, '', '')], () => {});
    cleanups.push(() => srv.close());
    const env = { TS_ENABLE_HEALTH_CHECK: 'true', TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}`, TS_SOCKET: '/nonexistent/sock' };
    let r = await runHealth(env);
    expect(r).toEqual({ code: 1, out: '', err: `unhealthy: GET http://127.0.0.1:${port}/healthz: 503 node currently has no tailscale IPs\n` });
    healthy = true;
    r = await runHealth(env);
    expect(r).toEqual({ code: 0, out: `healthy: GET http://127.0.0.1:${port}/healthz: 200 ok\n`, err: '' });
  });
  it('a bad configuration is the reason, one line', async () => {
    const r = await runHealth({ TS_ENABLE_HEALTH_CHECK: 'true', TS_LOCAL_ADDR_PORT: 'nonsense' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^unhealthy: invalid configuration: error parsing TS_LOCAL_ADDR_PORT value "nonsense": .*\n$/);
  });
});
