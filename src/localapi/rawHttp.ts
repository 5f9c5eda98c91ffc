// A minimal HTTP/1.1 client over a unix socket, for the LocalAPI only. node:http costs ~2.4 MB
// RSS in modules and the llhttp parser (docs/DECISIONS.md, "LocalAPI over node:net"); tailscaled
// answers with Content-Length or chunked bodies, which is all this reads. A GET reuses the last
// connection to the same socket once its answer was read to the end (one idle connection per
// path, as Go's client keeps them): a fresh connection costs ~0.4–0.8 ms of connect and accept on
// every netmap's dns-config GET (docs/PERFORMANCE.md). Other methods take a connection of their own.
import net from 'node:net';
import { Readable } from 'node:stream';

export interface RawRequest {
  socketPath: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** The response head, and its body as a stream (like http.IncomingMessage, for what we use). */
export class RawResponse extends Readable {
  statusCode = 0;
  statusMessage = '';
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string> = {};
  /** The connection, until the body has ended (then it may serve the next GET). */
  socket: net.Socket | undefined;
  constructor(socket: net.Socket) {
    super();
    this.socket = socket;
  }
  override _read(): void {
    this.socket?.resume();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.socket?.destroy();
    cb(err);
  }
}

/** The idle connection kept for the next GET, per socket path, and how it leaves the pool. */
const idle = new Map<string, { socket: net.Socket; drop: () => void }>();

const IDLE_EVENTS = ['close', 'error', 'data'] as const;

/** Takes the idle connection of `path` out of the pool, its idle listeners removed. */
function release(path: string): net.Socket | undefined {
  const p = idle.get(path);
  if (p === undefined) return undefined;
  idle.delete(path);
  for (const ev of IDLE_EVENTS) p.socket.off(ev, p.drop);
  return p.socket;
}

/** The idle connection of `path`, ready for a request, if it is still usable. */
function unpark(path: string): net.Socket | undefined {
  const socket = release(path);
  if (socket === undefined) return undefined;
  if (socket.destroyed || !socket.writable) { socket.destroy(); return undefined; }
  socket.ref();
  return socket;
}

/** Keeps `socket` for the next GET to `path`; closed by the server (or sending unasked bytes) it leaves. */
function park(path: string, socket: net.Socket): void {
  release(path)?.destroy();
  const drop = (): void => {
    if (idle.get(path)?.socket === socket) release(path);
    socket.destroy();
  };
  for (const ev of IDLE_EVENTS) socket.on(ev, drop);
  socket.unref(); // an idle connection never keeps the process alive
  socket.resume(); // so a close by the server is seen while idle
  idle.set(path, { socket, drop });
}

/** Closes the idle connections (tests; the process exit closes them anyway). */
export function closeIdleConnections(): void {
  for (const path of [...idle.keys()]) release(path)?.destroy();
}

const MAX_HEAD = 64 * 1024;

function abortError(signal: AbortSignal): Error {
  const e = new Error('The operation was aborted', { cause: signal.reason }) as NodeJS.ErrnoException;
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

function hangUp(): Error {
  const e = new Error('socket hang up') as NodeJS.ErrnoException;
  e.code = 'ECONNRESET';
  return e;
}

/** Parses `HTTP/1.1 200 OK` and the header lines; undefined when malformed. */
export function parseHead(text: string): { version: string; status: number; message: string; headers: Record<string, string> } | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/(1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) return undefined;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  return { version: m[1]!, status: Number(m[2]), message: m[3] ?? '', headers };
}

/** Decodes a chunked body incrementally; `push` returns the payload bytes and whether it ended. */
export class ChunkedDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private left = -1; // bytes of the current chunk still to come; -1: expecting a size line
  private trailer = false;
  /** Bytes received beyond the end of the body. */
  get pending(): boolean {
    return this.buf.length > 0;
  }
  push(data: Buffer): { out: Buffer[]; done: boolean } {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const out: Buffer[] = [];
    for (;;) {
      if (this.trailer) {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) return { out, done: false };
        const line = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + 2);
        if (line.length === 0) return { out, done: true };
        continue;
      }
      if (this.left < 0) {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) {
          if (this.buf.length > 1024) throw new Error('malformed chunked encoding');
          return { out, done: false };
        }
        const size = parseInt(this.buf.subarray(0, i).toString('latin1').split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('malformed chunked encoding');
        this.buf = this.buf.subarray(i + 2);
        if (size === 0) { this.trailer = true; continue; }
        this.left = size;
      }
      if (this.left > 0) {
        if (this.buf.length === 0) return { out, done: false };
        const take = Math.min(this.left, this.buf.length);
        out.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.left -= take;
      }
      if (this.left === 0) {
        if (this.buf.length < 2) return { out, done: false };
        this.buf = this.buf.subarray(2); // the chunk's CRLF
        this.left = -1;
      }
    }
  }
}

/** Sends one request and resolves with the response once its head has arrived. */
export function rawRequest(req: RawRequest): Promise<RawResponse> {
  const reused = req.method === 'GET' ? unpark(req.socketPath) : undefined;
  if (reused === undefined) return attempt(req, net.connect(req.socketPath), false);
  // A kept connection the server closed just before our request ends without a byte of answer:
  // the GET goes again on a fresh one (as Go's client retries idempotent requests).
  return attempt(req, reused, true).catch((e: unknown) => {
    if (e instanceof StaleConnection) return attempt(req, net.connect(req.socketPath), false);
    throw e;
  });
}

class StaleConnection extends Error {}

function attempt(req: RawRequest, socket: net.Socket, reused: boolean): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const { signal } = req;
    if (signal?.aborted) { if (reused) park(req.socketPath, socket); else socket.destroy(); reject(abortError(signal)); return; }
    const res = new RawResponse(socket);
    let head: Buffer = Buffer.alloc(0);
    let gotHead = false;
    let body: ((d: Buffer) => void) | undefined;
    let untilClose = false;
    let ended = false;
    /** Whether the connection may serve the next GET once this answer has been read. */
    let keep = false;
    const detach = () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      socket.off('close', onClose);
      socket.off('data', onData);
    };
    const finish = () => {
      if (ended) return;
      ended = true;
      res.socket = undefined;
      res.push(null);
      detach();
      if (keep) park(req.socketPath, socket);
      else socket.end();
    };
    const fail = (e: Error) => {
      signal?.removeEventListener('abort', onAbort);
      if (!gotHead) {
        socket.destroy();
        reject(reused && head.length === 0 && !signal?.aborted ? new StaleConnection(e.message) : e);
        return;
      }
      if (!ended) res.destroy(e);
    };
    const onAbort = () => fail(abortError(signal!));
    const onClose = () => {
      signal?.removeEventListener('abort', onAbort);
      if (!gotHead) { reject(reused && head.length === 0 ? new StaleConnection('socket hang up') : hangUp()); return; }
      if (untilClose || ended) { finish(); return; }
      // A body framed by length or chunks that stops early is an error, as in node:http.
      res.destroy(hangUp());
    };
    const onData = (d: Buffer) => {
      if (gotHead) { body!(d); return; }
      head = head.length ? Buffer.concat([head, d]) : d;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) fail(new Error('response header too large'));
        return;
      }
      const parsed = parseHead(head.subarray(0, end).toString('latin1'));
      if (!parsed) { fail(new Error('malformed HTTP response')); return; }
      gotHead = true;
      res.statusCode = parsed.status;
      res.statusMessage = parsed.message;
      res.headers = parsed.headers;
      const rest = head.subarray(end + 4);
      untilClose = !noBody(req.method, parsed.status, parsed.headers) && parsed.headers['content-length'] === undefined
        && !/\bchunked\b/i.test(parsed.headers['transfer-encoding'] ?? '');
      keep = req.method === 'GET' && !untilClose && parsed.version === '1.1' && !/\bclose\b/i.test(parsed.headers.connection ?? '');
      body = bodyReader(req.method, parsed, res, socket, finish, (e) => res.destroy(e), () => { keep = false; });
      resolve(res);
      if (rest.length) body(rest);
      else if (!ended && noBody(req.method, parsed.status, parsed.headers)) finish();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', fail);
    socket.on('close', onClose);
    socket.on('data', onData);
    const lines = [`${req.method} ${req.path} HTTP/1.1`];
    for (const [k, v] of Object.entries(req.headers)) lines.push(`${k}: ${v}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n${req.body ?? ''}`);
  });
}

function noBody(method: string, status: number, headers: Record<string, string>): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200) || headers['content-length'] === '0';
}

/** Returns the function that takes body bytes off the socket and pushes them to `res`. */
function bodyReader(method: string, head: { status: number; headers: Record<string, string> }, res: RawResponse, socket: net.Socket, finish: () => void, fail: (e: Error) => void, surplus: () => void): (d: Buffer) => void {
  const push = (b: Buffer) => { if (!res.push(b)) socket.pause(); };
  if (noBody(method, head.status, head.headers)) return () => finish();
  if (/\bchunked\b/i.test(head.headers['transfer-encoding'] ?? '')) {
    const dec = new ChunkedDecoder();
    return (d) => {
      let r;
      try { r = dec.push(d); } catch (e) { fail(e as Error); return; }
      for (const b of r.out) push(b);
      if (r.done) { if (dec.pending) surplus(); finish(); }
    };
  }
  const len = head.headers['content-length'];
  if (len !== undefined) {
    let left = Number(len);
    if (!Number.isSafeInteger(left) || left < 0) return () => fail(new Error('malformed Content-Length'));
    return (d) => {
      const take = d.subarray(0, left);
      left -= take.length;
      if (take.length) push(take);
      if (take.length < d.length) surplus(); // bytes beyond the body: the connection is out of step
      if (left === 0) finish();
    };
  }
  return (d) => push(d); // until the server closes
}
