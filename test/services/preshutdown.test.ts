import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { egressPreshutdown, type Pinger } from '../../src/services/egress/preshutdown.js';
import { collectLogs } from './fakes.js';

const servers: http.Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A health endpoint answering as this pod (10.0.0.1) for the first `n` requests, then as another. */
async function endpoint(n: number): Promise<{ url: string; calls: () => number }> {
  let calls = 0;
  const s = http.createServer((req, res) => {
    calls++;
    res.setHeader('Pod-IPv4', calls <= n ? '10.0.0.1' : '10.0.0.2');
    res.end('ok');
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/healthz`, calls: () => calls };
}

async function configDir(services: Record<string, string>, pings?: string): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cb-preshutdown-'));
  dirs.push(d);
  const cfg = Object.fromEntries(Object.entries(services).map(([k, url]) => [k, { healthCheckEndpoint: url, tailnetTarget: { fqdn: `${k}.ts.net` }, ports: [] }]));
  await writeFile(path.join(d, 'egress-services'), JSON.stringify(cfg));
  if (pings !== undefined) await writeFile(path.join(d, 'hep-pings'), pings);
  return d;
}

function run(dir: string, opts: { podIPv6?: string; ping?: Pinger; signal?: AbortSignal; podIPv4?: string } = {}) {
  const { lines, log } = collectLogs();
  const p = egressPreshutdown({
    settings: { egressProxiesCfgPath: dir, podIPv4: opts.podIPv4 ?? '10.0.0.1', podIPv6: opts.podIPv6 ?? '', testSleepMs: 1 },
    signal: opts.signal ?? new AbortController().signal, log, ping: opts.ping, pingTimeoutMs: 500,
  });
  return { p, lines };
}

describe('egress pre-shutdown hook (upstream TestWaitTillSafeToShutdown cases)', () => {
  it('no config: safe to terminate at once', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'cb-preshutdown-'));
    dirs.push(d);
    expect(await run(d).p).toEqual({ status: 200, body: 'safe to terminate' });
  });

  const cases: [string, number[], string][] = [
    ['one service, not routed here', [0], '2'],
    ['three services, not routed here', [0, 0, 0], '2'],
    ['one service routed here for 3 calls', [3], '2'],
    ['services routed here for 1, 3, 5 calls', [1, 3, 5], '2'],
    ['services routed here for 7, 10 calls (5 pings)', [7, 10], '5'],
  ];
  for (const [name, ns, pings] of cases) {
    it(name, async () => {
      const eps = await Promise.all(ns.map(endpoint));
      const d = await configDir(Object.fromEntries(eps.map((e, i) => [`svc${i}`, e.url])), pings);
      const { p, lines } = run(d);
      expect(await p).toEqual({ status: 200, body: '' });
      eps.forEach((e, i) => {
        expect(e.calls()).toBeGreaterThan(ns[i]); // kept pinging until the pod stopped answering
        expect(lines).toContain(`service "svc${i}" is no longer routed through this Pod`);
      });
      expect(lines.at(-1)).toBe('Sleeping for 10ms before shutdown to ensure that kube proxies on all nodes have updated routing configuration');
    });
  }

  it('services without health endpoints are reported and the long sleep still happens', async () => {
    const d = await configDir({ a: '', b: '', c: '' }, '2');
    const { p, lines } = run(d);
    expect(await p).toEqual({ status: 200, body: '' });
    expect(lines).toContain('Tailnet target "a" does not have a cluster healthcheck specified, unable to verify if cluster traffic for the target is still routed via this Pod');
    expect(lines.at(-1)).toMatch(/^Sleeping for 10ms/);
  });

  it('zero pings: drained without any request', async () => {
    const e = await endpoint(100);
    const d = await configDir({ a: e.url });
    expect(await run(d).p).toEqual({ status: 200, body: '' });
    expect(e.calls()).toBe(0);
  });

  it('an unreachable health endpoint does not count as still routed', async () => {
    const e = await endpoint(0);
    const url = e.url;
    await new Promise((r) => servers.pop()!.close(r)); // nothing listens there any more
    const d = await configDir({ gone: url }, '3');
    const { p, lines } = run(d);
    expect(await p).toEqual({ status: 200, body: '' });
    expect(lines.some((l) => l.startsWith(`Endpoint "${url}" can not be reached: `) && l.endsWith(', likely because there are no (more) healthy backends'))).toBe(true);
    expect(lines).toContain('service "gone" is no longer routed through this Pod');
  });

  it('dual-stack pod: waits until neither family routes here', async () => {
    const seen: (4 | 6)[] = [];
    let v6Left = 4;
    const ping: Pinger = async (_url, fam) => {
      seen.push(fam);
      if (fam === 4) return { podIPv4: '10.0.0.2', podIPv6: 'fd00::2' };
      return v6Left-- > 0 ? { podIPv4: '10.0.0.1', podIPv6: 'FD00::1' } : { podIPv4: '10.0.0.2', podIPv6: 'fd00::2' };
    };
    const d = await configDir({ ds: 'http://svc.ns.svc.cluster.local:9002/healthz' }, '1');
    const { p } = run(d, { podIPv6: 'fd00::1', ping });
    expect(await p).toEqual({ status: 200, body: '' });
    expect(seen.filter((f) => f === 6).length).toBe(5);
    expect(seen.filter((f) => f === 4).length).toBe(5);
  });

  it('stops when the request ends', async () => {
    const e = await endpoint(1_000_000);
    const d = await configDir({ stuck: e.url }, '1');
    const ac = new AbortController();
    const { p, lines } = run(d, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await p;
    expect(lines).toContain('Cluster traffic for stuck did not stop being routed to this Pod.');
  });

  it('config and hep-pings errors answer 500', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'cb-preshutdown-'));
    dirs.push(d);
    await writeFile(path.join(d, 'egress-services'), '{bad');
    const r = await run(d).p;
    expect(r.status).toBe(500);
    expect(r.body).toMatch(/^error retrieving egress services configs: error parsing egress services config /);
    const d2 = await configDir({ a: 'http://127.0.0.1:1/' }, 'three');
    const r2 = await run(d2).p;
    expect(r2.status).toBe(500);
    expect(r2.body).toMatch(/^error determining the number of times health check endpoint should be pinged: /);
  });

  it('negative hep-pings are logged and treated as 0', async () => {
    const e = await endpoint(5);
    const d = await configDir({ a: e.url }, '-2');
    const { p, lines } = run(d);
    expect(await p).toEqual({ status: 200, body: '' });
    expect(lines).toContain('[unexpected] hep pings is negative: -2');
    expect(e.calls()).toBe(0);
  });
});
