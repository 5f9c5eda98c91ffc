// The LocalAPI's HTTP/1.1 client over a unix socket, against node:http servers and raw sockets.
import { afterEach, describe, expect, test } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChunkedDecoder, closeIdleConnections, parseHead, rawRequest, type RawResponse } from '../../src/localapi/rawHttp.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => { closeIdleConnections(); for (const c of cleanups.splice(0)) await c(); });

function sockPath(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cb-raw-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 's.sock');
}

/** A node:http server on a fresh socket; `conns()` counts the connections it accepted. */
async function countingServer(handler: http.RequestListener): Promise<{ p: string; conns: () => number; srv: http.Server }> {
  const p = sockPath();
  let n = 0;
  const srv = http.createServer(handler);
  srv.on('connection', () => { n++; });
  await new Promise<void>((r) => srv.listen(p, r));
  cleanups.push(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
  return { p, conns: () => n, srv };
}

async function httpServer(handler: http.RequestListener): Promise<string> {
  return (await countingServer(handler)).p;
}

async function rawServer(onConn: (s: net.Socket) => void): Promise<string> {
  const p = sockPath();
  const conns = new Set<net.Socket>();
  const srv = net.createServer((c) => { conns.add(c); onConn(c); });
  await new Promise<void>((r) => srv.listen(p, r));
  cleanups.push(() => new Promise<void>((r) => { for (const c of conns) c.destroy(); srv.close(() => r()); }));
  return p;
}

async function text(res: RawResponse): Promise<string> {
  let s = '';
  for await (const c of res) s += (c as Buffer).toString('utf8');
  return s;
}

const req = (socketPath: string, over: Partial<Parameters<typeof rawRequest>[0]> = {}) =>
  rawRequest({ socketPath, method: 'GET', path: '/localapi/v0/status', headers: { Host: 'local-tailscaled.sock' }, ...over });

describe('rawRequest', () => {
  test('sends method, path, headers and body; reads a Content-Length answer', async () => {
    let seen: { method?: string; url?: string; host?: string; cap?: string; body: string } = { body: '' };
    const p = await httpServer((q, s) => {
      let b = '';
      q.on('data', (c) => { b += c; });
      q.on('end', () => {
        seen = { method: q.method, url: q.url, host: q.headers.host, cap: q.headers['tailscale-cap'] as string, body: b };
        s.writeHead(201, 'Made', { 'X-Two': ['a', 'b'] }).end('{"ok":true}');
      });
    });
    const body = '{"x":"é"}';
    const res = await req(p, { method: 'POST', path: '/p?q=1', headers: { Host: 'local-tailscaled.sock', 'Tailscale-Cap': '142', 'Content-Length': String(Buffer.byteLength(body)) }, body });
    expect([res.statusCode, res.statusMessage, res.headers['x-two']]).toEqual([201, 'Made', 'a, b']);
    expect(await text(res)).toBe('{"ok":true}');
    expect(seen).toEqual({ method: 'POST', url: '/p?q=1', host: 'local-tailscaled.sock', cap: '142', body });
  });

  test('streams a chunked body as it arrives and ends at the last chunk', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const p = await httpServer((_q, s) => {
      s.writeHead(200, { 'Content-Type': 'application/json' });
      s.write('{"a":1}\n');
      void gate.then(() => { s.write('{"b":'); s.end('2}\n'); });
    });
    const res = await req(p);
    res.setEncoding('utf8');
    const got: string[] = [];
    const first = new Promise<void>((r) => res.once('data', (c: string) => { got.push(c); r(); }));
    await first;
    expect(got).toEqual(['{"a":1}\n']);
    res.on('data', (c: string) => got.push(c));
    const ended = new Promise<void>((r) => res.on('end', () => r()));
    release();
    await ended;
    expect(got.join('')).toBe('{"a":1}\n{"b":2}\n');
  });

  test('204 and HEAD have no body; a body without framing lasts until the server closes', async () => {
    const p204 = await httpServer((_q, s) => { s.writeHead(204).end(); });
    expect(await text(await req(p204))).toBe('');
    const pClose = await rawServer((c) => { c.once('data', () => c.end('HTTP/1.1 200 OK\r\nX: y\r\n\r\nall of it')); });
    const res = await req(pClose);
    expect([res.statusCode, res.headers.x]).toEqual([200, 'y']);
    expect(await text(res)).toBe('all of it');
  });

  test('a body cut short is an error (socket hang up), as in node:http', async () => {
    const p = await rawServer((c) => { c.once('data', () => c.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')); });
    await expect(text(await req(p))).rejects.toThrow('socket hang up');
  });

  test('a connection closed before the head rejects; a malformed head rejects', async () => {
    const pGone = await rawServer((c) => { c.once('data', () => c.end()); });
    await expect(req(pGone)).rejects.toMatchObject({ code: 'ECONNRESET' });
    const pBad = await rawServer((c) => { c.once('data', () => c.end('SPDY/9 nope\r\n\r\n')); });
    await expect(req(pBad)).rejects.toThrow('malformed HTTP response');
  });

  test('no listener: the connect error is passed on with its code', async () => {
    await expect(req(sockPath())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('abort before the head rejects with AbortError; abort mid-body errors the stream', async () => {
    const pSlow = await rawServer(() => { /* never answers */ });
    const ac = new AbortController();
    const pending = req(pSlow, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });

    const pStream = await httpServer((_q, s) => { s.writeHead(200); s.write('x\n'); });
    const ac2 = new AbortController();
    const res = await req(pStream, { signal: ac2.signal });
    const err = new Promise<Error>((r) => res.on('error', r));
    res.resume();
    ac2.abort();
    expect((await err).name).toBe('AbortError');
  });
});

describe('rawRequest keeps one connection for the next GET', () => {
  test('GETs answered with Content-Length or chunks reuse one connection', async () => {
    let i = 0;
    const { p, conns } = await countingServer((_q, s) => {
      i++;
      if (i % 2) s.writeHead(200, { 'Content-Length': '2' }).end('ok');
      else { s.writeHead(200); s.write('ch'); s.end('unked'); }
    });
    expect(await text(await req(p))).toBe('ok');
    expect(await text(await req(p))).toBe('chunked');
    expect(await text(await req(p))).toBe('ok');
    expect(conns()).toBe(1);
  });

  test('POST, Connection: close, HTTP/1.0 and bytes beyond the body each get a fresh connection next time', async () => {
    const { p, conns } = await countingServer((q, s) => {
      if (q.url === '/close') s.setHeader('Connection', 'close');
      s.writeHead(200, { 'Content-Length': '1' }).end('x');
    });
    await text(await req(p, { method: 'POST', path: '/p', headers: { Host: 'h', 'Content-Length': '0' } }));
    await text(await req(p, { method: 'POST', path: '/p', headers: { Host: 'h', 'Content-Length': '0' } }));
    expect(conns()).toBe(2);
    await text(await req(p, { path: '/close' }));
    await text(await req(p));
    expect(conns()).toBe(4);

    let accepted = 0;
    const pRaw = await rawServer((c) => {
      accepted++;
      c.on('data', () => c.write(accepted === 1 ? 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na' : 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nbEXTRA'));
    });
    expect(await text(await req(pRaw))).toBe('a'); // HTTP/1.0: not kept
    expect(await text(await req(pRaw))).toBe('b'); // surplus bytes: not kept
    expect(await text(await req(pRaw))).toBe('b');
    expect(accepted).toBe(3);
  });

  test('a kept connection the server closed is replaced: the next GET succeeds on a new one', async () => {
    const { p, conns, srv } = await countingServer((_q, s) => { s.writeHead(200, { 'Content-Length': '2' }).end('ok'); });
    expect(await text(await req(p))).toBe('ok');
    srv.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 20));
    expect(await text(await req(p))).toBe('ok');
    expect(conns()).toBe(2);
  });

  test('a kept connection closed with the request already on it: the GET is sent again, once', async () => {
    let accepted = 0;
    const p = await rawServer((c) => {
      accepted++;
      const first = accepted === 1;
      let served = 0;
      c.on('data', () => {
        served++;
        // The first connection answers once, then hangs up on the next request unanswered.
        if (first && served === 2) { c.destroy(); return; }
        c.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    expect(await text(await req(p))).toBe('ok');
    expect(await text(await req(p))).toBe('ok');
    expect(accepted).toBe(2);
  });

  test('the response stream ending does not close the kept connection', async () => {
    const { p, conns } = await countingServer((_q, s) => { s.writeHead(200, { 'Content-Length': '2' }).end('ok'); });
    const res = await req(p);
    expect(await text(res)).toBe('ok');
    res.destroy(); // what a consumer may do after reading
    await new Promise((r) => setTimeout(r, 10));
    expect(await text(await req(p))).toBe('ok');
    expect(conns()).toBe(1);
  });
});

describe('ChunkedDecoder', () => {
  const encoded = Buffer.from('4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n');
  test('decodes a body split at every byte', () => {
    for (let cut = 0; cut <= encoded.length; cut++) {
      const d = new ChunkedDecoder();
      const a = d.push(encoded.subarray(0, cut));
      const b = a.done ? { out: [], done: true } : d.push(encoded.subarray(cut));
      expect(Buffer.concat([...a.out, ...b.out]).toString()).toBe('Wikipedia in\r\n\r\nchunks.');
      expect(b.done).toBe(true);
    }
  });
  test('decodes one byte at a time', () => {
    const d = new ChunkedDecoder();
    const out: Buffer[] = [];
    let done = false;
    for (const byte of encoded) { const r = d.push(Buffer.from([byte])); out.push(...r.out); done ||= r.done; }
    expect([Buffer.concat(out).toString(), done]).toEqual(['Wikipedia in\r\n\r\nchunks.', true]);
  });
  test('rejects a size that is not hex', () => {
    expect(() => new ChunkedDecoder().push(Buffer.from('zz\r\n'))).toThrow('malformed chunked encoding');
  });
});

test('parseHead: status, message, lower-cased and joined headers; undefined when malformed', () => {
  expect(parseHead('HTTP/1.1 404 Not Found\r\nA: 1\r\na: 2')).toEqual({ version: '1.1', status: 404, message: 'Not Found', headers: { a: '1, 2' } });
  expect(parseHead('HTTP/1.0 200')).toEqual({ version: '1.0', status: 200, message: '', headers: {} });
  expect(parseHead('garbage')).toBeUndefined();
  expect(parseHead('HTTP/1.1 200 OK\r\nno-colon')).toBeUndefined();
});
