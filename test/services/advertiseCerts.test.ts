import { afterEach, describe, expect, it } from 'vitest';
import { LocalAPIClient } from '../../src/localapi/client.js';
import { autoAdvertisementEnabled, ServiceAdvertiser, unadvertiseServices } from '../../src/services/advertise.js';
import { busWaitForDomain, CertLoops, runCertLoop, type Sleep } from '../../src/services/certs/loops.js';
import { DAY, isTransientCertError, MINUTE, nextCertAttempt, parseRetryAfter, type CertOutcome } from '../../src/services/certs/schedule.js';
import { serviceNames } from '../../src/services/serve/config.js';
import { FakeLocalAPIServices } from '../support/fakeLocalAPIServices.js';
import { collectLogs, eventually } from './fakes.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });

async function lapi() {
  const api = await FakeLocalAPIServices.start();
  const client = new LocalAPIClient(api.socket);
  cleanup.push(async () => { client.close(); await api.close(); });
  return { api, client };
}

describe('Service advertisement (upstream TestRefreshAdvertiseServices)', () => {
  const cases: [string, unknown, string[] | undefined][] = [
    ['nil config', null, undefined],
    ['empty config', {}, undefined],
    ['no Services', { TCP: { 80: { HTTP: true } } }, undefined],
    ['one Service', { Services: { 'svc:a': {} } }, ['svc:a']],
    ['three Services', { Services: { 'svc:c': {}, 'svc:a': {}, 'svc:b': {} } }, ['svc:a', 'svc:b', 'svc:c']],
    ['TCP and Web Services', { Services: { 'svc:tcp': { TCP: { 5432: { TCPForward: 'x:1' } } }, 'svc:web': { Web: { 'w:443': {} } } } }, ['svc:tcp', 'svc:web']],
  ];
  for (const [name, cfg, want] of cases) {
    it(name, async () => {
      const { api, client } = await lapi();
      const adv = new ServiceAdvertiser(client);
      const t0 = Date.now();
      await adv.ensure(serviceNames(cfg as never));
      expect(Date.now() - t0).toBeLessThan(2_000); // no 20 s wait
      const patches = api.of('PATCH', '/localapi/v0/prefs');
      if (want === undefined) {
        expect(patches).toHaveLength(0);
      } else {
        expect(patches).toHaveLength(1);
        expect(JSON.parse(patches[0].body)).toEqual({ AdvertiseServices: want, AdvertiseServicesSet: true });
      }
    });
  }

  it('re-PATCHes only when the set changes; clears what it advertised', async () => {
    const { api, client } = await lapi();
    const adv = new ServiceAdvertiser(client);
    await adv.ensure(['svc:a', 'svc:b']);
    await adv.ensure(['svc:b', 'svc:a']);
    await adv.ensure(['svc:a', 'svc:b']);
    expect(api.of('PATCH', '/localapi/v0/prefs')).toHaveLength(1);
    await adv.ensure(['svc:a']);
    await adv.ensure([]);
    expect(api.of('PATCH', '/localapi/v0/prefs').map((c) => JSON.parse(c.body).AdvertiseServices)).toEqual([['svc:a', 'svc:b'], ['svc:a'], []]);
  });

  it('PATCH errors carry upstream\'s fatal text', async () => {
    const adv = new ServiceAdvertiser({
      getJSON: async () => ({}) as never,
      sendJSON: async () => { throw new Error('boom'); },
    });
    await expect(adv.ensure(['svc:a'])).rejects.toThrow('autoadvertisement: failed to refresh advertise services: failed to ensure services advertised: error setting prefs AdvertiseServices: boom');
  });

  it('TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT defaults to true', () => {
    expect(autoAdvertisementEnabled({})).toBe(true);
    expect(autoAdvertisementEnabled({ TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT: 'false' })).toBe(false);
    expect(autoAdvertisementEnabled({ TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT: 'bogus' })).toBe(true);
  });

  it('unadvertises on shutdown with a wait bounded by the signal', async () => {
    const { api, client } = await lapi();
    api.prefs.AdvertiseServices = ['svc:a', 'svc:b'];
    const { lines, log } = collectLogs();
    const t0 = Date.now();
    await unadvertiseServices(client, AbortSignal.timeout(100), { log });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(lines).toEqual(['unadvertising services: [svc:a svc:b]']);
    expect(JSON.parse(api.of('PATCH', '/localapi/v0/prefs')[0].body)).toEqual({ AdvertiseServices: null, AdvertiseServicesSet: true });
    // Nothing advertised: no PATCH, no wait.
    const before = api.calls.length;
    await unadvertiseServices(client, new AbortController().signal, { log, waitMs: 60_000 });
    expect(api.calls.slice(before).map((c) => c.method)).toEqual(['GET']);
  });
});

describe('cert retry schedule (kube/certs)', () => {
  const table: [string, CertOutcome, number, number, number][] = [
    ['success resets', { kind: 'ok' }, 3, DAY, 0],
    ['transient does not advance', { kind: 'transient' }, 2, MINUTE, 2],
    ['first error', { kind: 'error' }, 0, MINUTE, 1],
    ['second error', { kind: 'error' }, 1, 10 * MINUTE, 2],
    ['third error', { kind: 'error' }, 2, 100 * MINUTE, 3],
    ['fourth error', { kind: 'error' }, 3, DAY, 4],
    ['many errors', { kind: 'error' }, 9, DAY, 10],
    ['429 with Retry-After', { kind: 'rate-limited', retryAfterMs: 7_000 }, 0, 7_000, 1],
    ['429 without Retry-After', { kind: 'rate-limited' }, 1, 10 * MINUTE, 2],
  ];
  for (const [name, outcome, count, delay, next] of table) {
    it(name, () => expect(nextCertAttempt(outcome, count)).toEqual({ delayMs: delay, retryCount: next }));
  }
  it('classifies transient errors and parses Retry-After', () => {
    expect(isTransientCertError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientCertError(new Error('x', { cause: Object.assign(new Error('y'), { code: 'EPIPE' }) }))).toBe(true);
    expect(isTransientCertError(new DOMException('t', 'TimeoutError'))).toBe(true);
    expect(isTransientCertError(new Error('invalid domain'))).toBe(false);
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 16:00:00 GMT', Date.parse('Sun, 22 Nov 2026 15:59:00 GMT'))).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});

describe('cert loops', () => {
  it('follows the schedule against the LocalAPI and logs failures like upstream', async () => {
    const { api, client } = await lapi();
    api.certAnswers = [
      { status: 500, body: 'your Tailscale account does not support getting TLS certs\n' },
      { status: 429, body: 'rate limited\n', headers: { 'Retry-After': '42' } },
      // A hang-up on the kept-alive connection is retried once on a fresh one (as Go's client
      // retries a GET whose reused connection died unanswered); the second one reaches the loop.
      { status: 0, hangUp: true },
      { status: 0, hangUp: true },
      { status: 200, body: 'KEY\nCERT\n' },
      { status: 500, body: 'nope\n' },
    ];
    const delays: number[] = [];
    const ac = new AbortController();
    const sleep: Sleep = async (ms) => { delays.push(ms); if (delays.length === 5) ac.abort(); };
    const { lines, log } = collectLogs();
    let waited = '';
    await runCertLoop({ client, log, sleep, waitForDomain: async (d) => { waited = d; } }, 'web.tailnet.ts.net', ac.signal);
    expect(waited).toBe('web.tailnet.ts.net');
    expect(delays).toEqual([MINUTE, 42_000, MINUTE, DAY, MINUTE]);
    expect(lines[0]).toBe('Error refreshing certificate for web.tailnet.ts.net (retry 1): 500 Internal Server Error: your Tailscale account does not support getting TLS certs. Will retry in 1m0s');
    expect(lines[1]).toMatch(/^Error refreshing certificate for web.tailnet.ts.net \(retry 2\): .*rate limited\. Will retry in 42s$/);
    expect(lines[2]).toMatch(/\(retry 2\): .*Will retry in 1m0s$/);
    expect(lines[3]).toMatch(/\(retry 1\): 500 Internal Server Error: nope\. Will retry in 1m0s$/);
    expect(api.of('GET', '/localapi/v0/cert/')[0].path).toBe('/localapi/v0/cert/web.tailnet.ts.net?type=pair&min_validity=0s');
  });

  it('keeps one loop per domain, adds and cancels on change', async () => {
    const started: string[] = [];
    const cancelled: string[] = [];
    const loops = new CertLoops({
      client: { request: async () => ({ status: 200, statusText: 'OK', headers: {}, body: '' }) },
      log: () => {},
      waitForDomain: (d, signal) => new Promise((r) => { started.push(d); signal.addEventListener('abort', () => { cancelled.push(d); r(); }); }),
    });
    loops.ensure(['a', 'b']);
    loops.ensure(['a', 'b']);
    expect(started).toEqual(['a', 'b']);
    loops.ensure(['b', 'c']);
    expect(started).toEqual(['a', 'b', 'c']);
    expect(cancelled).toEqual(['a']);
    expect(loops.domains).toEqual(['b', 'c']);
    loops.close();
    expect(cancelled.sort()).toEqual(['a', 'b', 'c']);
  });

  it('waits for the domain via the IPN bus (mask 8) and cert-domains', async () => {
    const { api, client } = await lapi();
    const { log } = collectLogs();
    let done = false;
    const p = busWaitForDomain(client, log)('web.tailnet.ts.net', new AbortController().signal).then(() => { done = true; });
    await eventually(() => api.of('GET', '/localapi/v0/cert-domains').length === 1);
    expect(api.of('GET', '/localapi/v0/watch-ipn-bus')[0].path).toBe('/localapi/v0/watch-ipn-bus?mask=8');
    api.certDomains = ['web.tailnet.ts.net'];
    api.push({ Version: 'x', Health: {} }); // no SelfChange: no lookup
    await new Promise((r) => setTimeout(r, 50));
    expect(api.of('GET', '/localapi/v0/cert-domains')).toHaveLength(1);
    expect(done).toBe(false);
    api.push({ Version: 'x', SelfChange: { ID: 1 } });
    await p;
    expect(done).toBe(true);
    await eventually(() => api.busCount === 0);
  });
});

describe('advertisement ordering', () => {
  it('a stale read (ticket taken before a newer ensure) does not undo the newer set', async () => {
    const { api, client } = await lapi();
    const adv = new ServiceAdvertiser(client);
    const stale = adv.observe(); // e.g. GET serve-config started before the serve watcher applied the file
    await adv.ensure(['svc:web']); // the serve watcher, after POST
    await adv.ensure([], undefined, stale); // the slow GET's (old, empty) answer
    expect(api.prefs.AdvertiseServices).toEqual(['svc:web']);
    expect(api.of('PATCH', '/localapi/v0/prefs')).toHaveLength(1);
  });
});
