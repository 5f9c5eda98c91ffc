// HTTP endpoints of the local server (spec §6) plus /livez and /readyz.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
  });
}

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }
/** The listener is up shortly after its log line; retry refused connections for a moment. */
async function request(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<Res> {
  for (let i = 0; ; i++) {
    try { return await request1(url, method, headers); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || i >= 40) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function request1(url: string, method: string, headers: Record<string, string>): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(env: Record<string, string>) {
  scn = new Scenario({ env });
  return scn.start();
}

describe('local server', () => {
  it('healthz: 503 before Running, 200 ok with Pod-IP headers after; HEAD, 405 and 404 like Go ServeMux', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const s = await start({ TS_AUTH_ONCE: 'true', TS_ENABLE_HEALTH_CHECK: 'true', TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}`, POD_IPS: '10.1.2.3,fd00::3' });
    let releaseUp!: () => void;
    s.api.cliHandler = (call, api) => call.args.includes('up') ? new Promise((resolve) => { releaseUp = () => { goRunning(api); resolve(0); }; }) : 0;
    await s.waitLog(`Running healthcheck endpoint at 127.0.0.1:${port}/healthz`);
    await s.waitFor(() => s.commands().some((c) => c.includes(' up ')), 'tailscale up');
    const before = await request(`${base}/healthz`);
    expect(before.status).toBe(503);
    expect(before.body).toBe('node currently has no tailscale IPs\n');
    expect(before.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(before.headers['x-content-type-options']).toBe('nosniff');
    expect((await request(`${base}/readyz`)).status).toBe(503);
    expect((await request(`${base}/livez`)).status).toBe(200);
    releaseUp();
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('Setting healthy true')).toBe(true);
    const after = await request(`${base}/healthz`);
    expect(after.status).toBe(200);
    expect(after.body).toBe('ok');
    expect(after.headers['pod-ipv4']).toBe('10.1.2.3');
    expect(after.headers['pod-ipv6']).toBe('fd00::3');
    const head = await request(`${base}/healthz`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const post = await request(`${base}/healthz`, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const missing = await request(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toBe('404 page not found\n');
    expect((await request(`${base}/metrics`)).status).toBe(404);
    expect((await request(`${base}/readyz`)).status).toBe(200);
    // /livez turns unhealthy only when tailscaled is gone; crash it and watch the process exit.
    process.kill(s.daemonPid()!, 'SIGUSR1');
    expect((await s.waitExit()).code).toBe(3);
  });

  it('metrics: proxies usermetrics with request headers and appends containerboot_ metrics, available before login', async () => {
    const port = await freePort();
    const s = await start({ TS_AUTH_ONCE: 'true', TS_ENABLE_METRICS: 'true', TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}` });
    s.api.cliHandler = () => new Promise(() => {});
    await s.waitLog(`Running metrics endpoint at 127.0.0.1:${port}/metrics`);
    await s.waitFor(() => s.api.openWatches > 0 || s.commands().length > 1, 'watch');
    const r = await request(`http://127.0.0.1:${port}/metrics`, 'GET', { 'X-Test': 'yes' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('tailscaled_health_messages{type="warning"} 0');
    expect(r.body).toContain('containerboot_backend_state 2');
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4');
    const proxied = s.api.requests.find((q) => q.path === '/localapi/v0/usermetrics')!;
    expect(proxied.headers['x-test']).toBe('yes');
    expect(proxied.headers['tailscale-cap']).toBe('142');
    const dbg = await request(`http://127.0.0.1:${port}/debug/pprof`);
    expect(dbg.status).toBe(404);
    expect(dbg.body).toBe('debug endpoint not configured\n');
  });

  it('debug proxy forwards the path (query dropped) to TS_DEBUG_ADDR_PORT', async () => {
    const seen: string[] = [];
    const dbg = http.createServer((req, res) => { seen.push(req.url!); res.writeHead(418, { 'X-From': 'debug' }); res.end('teapot'); });
    await new Promise<void>((r) => dbg.listen(0, '127.0.0.1', r));
    const dport = (dbg.address() as net.AddressInfo).port;
    const port = await freePort();
    const s = await start({ TS_AUTH_ONCE: 'true', TS_ENABLE_METRICS: 'true', TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}`, TS_DEBUG_ADDR_PORT: `127.0.0.1:${dport}` });
    s.api.cliHandler = () => new Promise(() => {});
    await s.waitLog(`Running metrics endpoint at 127.0.0.1:${port}/metrics`);
    expect(s.commands()[0]).toContain(`--debug=127.0.0.1:${dport}`);
    const r = await request(`http://127.0.0.1:${port}/debug/vars?x=1`, 'POST');
    expect(r.status).toBe(418);
    expect(r.body).toBe('teapot');
    expect(r.headers['x-from']).toBe('debug');
    expect(seen).toEqual(['/debug/vars']);
    dbg.close();
  });

  it('deprecated TS_HEALTHCHECK_ADDR_PORT gets its own listener next to metrics', async () => {
    const hport = await freePort();
    const mport = await freePort();
    const s = await start({ TS_AUTHKEY: 'k', TS_HEALTHCHECK_ADDR_PORT: `127.0.0.1:${hport}`, TS_ENABLE_METRICS: 'true', TS_LOCAL_ADDR_PORT: `127.0.0.1:${mport}` });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('[warning] TS_HEALTHCHECK_ADDR_PORT is deprecated and will be removed in 1.82.0. Please use TS_ENABLE_HEALTH_CHECK and optionally TS_LOCAL_ADDR_PORT instead.')).toBe(true);
    expect((await request(`http://127.0.0.1:${hport}/healthz`)).status).toBe(200);
    expect((await request(`http://127.0.0.1:${hport}/metrics`)).status).toBe(404);
    expect((await request(`http://127.0.0.1:${mport}/metrics`)).status).toBe(200);
  });

  it('listen failure is fatal with upstream text', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const s = await start({ TS_AUTHKEY: 'k', TS_ENABLE_HEALTH_CHECK: 'true', TS_LOCAL_ADDR_PORT: `127.0.0.1:${port}` });
    expect((await s.waitExit()).code).toBe(1);
    expect(s.messages().at(-1)).toMatch(new RegExp(`^failed to listen on addr "127.0.0.1:${port}": `));
    blocker.close();
  });
});
