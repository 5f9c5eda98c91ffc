// Bus watches share the boot's long-lived abort signal (no per-watch controller): closing or
// losing a watch must take its abort listener off that signal, or listeners pile up per watch.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalAPIClient } from '../../src/localapi/client.js';
import { BusWatch } from '../../src/localapi/ipnbus.js';
import { closeIdleConnections } from '../../src/localapi/rawHttp.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => { closeIdleConnections(); for (const c of cleanups.splice(0)) await c(); });

/** A bus that sends one notification per watch, then holds the stream open (or ends it). */
async function bus(endAfterFirst: boolean): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cb-bus-'));
  const p = path.join(dir, 's.sock');
  const srv = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"State":2}\n');
    if (endAfterFirst) res.end();
  });
  await new Promise<void>((r) => srv.listen(p, r));
  cleanups.push(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return p;
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('BusWatch on a shared signal', () => {
  it('leaves no abort listener behind after 20 watches are closed', async () => {
    const client = new LocalAPIClient(await bus(false));
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) {
      const w = await BusWatch.open(client, 0, ac.signal);
      expect((await w.next()).State).toBe(2);
      w.close();
    }
    await tick();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(ac.signal.aborted).toBe(false);
  });

  it('leaves no abort listener behind when tailscaled ends the streams', async () => {
    const client = new LocalAPIClient(await bus(true));
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) {
      const w = await BusWatch.open(client, 0, ac.signal);
      expect((await w.next()).State).toBe(2);
      await expect(w.next()).rejects.toThrow('EOF');
    }
    await tick();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('an abort of the shared signal still ends an open watch', async () => {
    const client = new LocalAPIClient(await bus(false));
    const ac = new AbortController();
    const w = await BusWatch.open(client, 0, ac.signal);
    await w.next();
    const pending = w.next();
    ac.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow();
  });
});
