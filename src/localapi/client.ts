// LocalAPI client: HTTP/1.1 over tailscaled's unix socket (localapi.md §1.1–§1.2).
import { rawRequest, type RawResponse } from './rawHttp.js';
import { CAPABILITY_VERSION } from '../capver.js';
import { parseJSONLossless } from './json.js';
import { monotonicMs } from '../util/lean.js';

export interface LocalAPIResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
}

export interface RequestOptions {
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Error from a non-2xx LocalAPI answer, with upstream's Go-client error text. */
export class LocalAPIError extends Error {
  constructor(message: string, readonly status: number, readonly body: string) {
    super(message);
  }
}

export const LOCALAPI_HOST = 'local-tailscaled.sock';

/** Turns a failed response into the error text the Go client would produce (localapi.md §1.2). */
export function errorFromResponse(res: LocalAPIResponse): LocalAPIError {
  let msg: string | undefined;
  try {
    const j = JSON.parse(res.body) as Record<string, unknown>;
    const e = j?.Error ?? j?.error;
    if (typeof e === 'string' && e !== '') msg = e;
  } catch { /* not JSON */ }
  if (msg === undefined) msg = `${res.status} ${res.statusText}: ${res.body.trim()}`;
  if (res.status === 403) msg = `Access denied: ${msg}`;
  return new LocalAPIError(msg, res.status, res.body);
}

export class LocalAPIClient {
  constructor(readonly socketPath: string) {}

  private retryRefusedUntil = 0;

  /**
   * For the next `ms`, connects refused by the socket (ECONNREFUSED: bound but not yet listening)
   * are retried every 5 ms. Used right after the socket file appears.
   */
  retryRefusedFor(ms: number): void {
    this.retryRefusedUntil = monotonicMs() + ms;
  }

  /** Opens a request and resolves with the response head; the caller consumes the body stream. */
  async open(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    for (;;) {
      try {
        return await this.open1(this.socketPath, method, path, opts);
      } catch (e) {
        const refused = (e as NodeJS.ErrnoException).code === 'ECONNREFUSED';
        if (!refused || monotonicMs() >= this.retryRefusedUntil || opts.signal?.aborted) throw e;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  private open1(socketPath: string, method: string, path: string, opts: RequestOptions): Promise<RawResponse> {
    const headers: Record<string, string> = {
      Host: LOCALAPI_HOST,
      'Tailscale-Cap': String(CAPABILITY_VERSION),
      ...opts.headers,
    };
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    return rawRequest({ socketPath, method, path, headers, body: opts.body, signal: opts.signal });
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<LocalAPIResponse> {
    const res = await this.open(method, path, opts);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode, statusText: res.statusMessage, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
  }

  /** Request that must answer 2xx; returns the response, throws LocalAPIError otherwise. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<LocalAPIResponse> {
    const res = await this.request(method, path, opts);
    if (res.status < 200 || res.status > 299) throw errorFromResponse(res);
    return res;
  }

  async getJSON<T = unknown>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.call('GET', path, { signal });
    return parseJSONLossless(res.body) as T;
  }

  async sendJSON<T = unknown>(method: string, path: string, body: unknown, signal?: AbortSignal, headers?: Record<string, string>): Promise<T | undefined> {
    const res = await this.call(method, path, { body: JSON.stringify(body), signal, headers: { 'Content-Type': 'application/json', ...headers } });
    return res.body.trim() === '' ? undefined : (parseJSONLossless(res.body) as T);
  }

  /** Nothing to release: every request has its own connection, closed when its body ends. */
  close(): void {}
}
