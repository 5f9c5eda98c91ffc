// A small Kubernetes API client over node:https (see docs/DECISIONS.md for why not
// @kubernetes/client-node). It speaks just what containerboot needs: JSON requests with a bearer
// token, the service-account CA as the only trusted root, Status-object errors.
import { hash } from 'node:crypto';
import https from 'node:https';
import { redact } from '../log.js';
import { useNativeSha256 } from '../util/sha256.js';
import { jsonErrorText } from '../util/jsonError.js';
import { errorFromResponse, KubeAPIError, KubeTransportError } from './status.js';
import type { TokenSource } from './inCluster.js';

export interface KubeClientOptions {
  baseURL: string;
  ca: string;
  tokens: TokenSource;
  /** Per-request limit; a request that gets no answer in time is a (transient) timeout. */
  requestTimeoutMs?: number;
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

// node:https has loaded node:crypto: the firewall's tags may use its hash at no memory cost.
useNativeSha256((text) => hash('sha256', text, 'hex'));

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly url: URL;
  readonly requestTimeoutMs: number;

  constructor(private readonly opts: KubeClientOptions) {
    this.url = new URL(opts.baseURL);
    // ca is the only trust anchor: Node uses it instead of (not in addition to) the system roots.
    // One kept-alive connection: the TLS handshake costs far more than the few small requests
    // containerboot makes, so parallel requests queue on it rather than open more (bench/kube.mjs).
    this.agent = new https.Agent({ keepAlive: true, ca: opts.ca, maxSockets: 1 });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** The token last read from the file (undefined before the first request). */
  cachedToken(): string | undefined {
    return this.opts.tokens.cached();
  }

  /** Sends a request; resolves with the parsed JSON body of a 200/201 answer, throws otherwise. */
  async request<T = unknown>(req: KubeRequest): Promise<T> {
    const token = await this.opts.tokens.get();
    try {
      return await this.send<T>(req, token);
    } catch (err) {
      if (!(err instanceof KubeAPIError) || err.code !== 401) throw err;
      // Drop the cached token (spec §4.1). If kubelet has rotated it meanwhile, one retry with the
      // new token saves a restart; an unchanged token means the 401 is real.
      this.opts.tokens.invalidate();
      const fresh = await this.opts.tokens.get();
      if (fresh === token) throw err;
      return await this.send<T>(req, fresh);
    }
  }

  private send<T>(req: KubeRequest, token: string): Promise<T> {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'containerboot' };
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const what = `${req.method} ${this.url.origin}${req.path}`;
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal, timeout, what, this.requestTimeoutMs));
        return;
      }
      const r = https.request({
        protocol: 'https:',
        hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
        port: this.url.port || 443,
        servername: isIP(this.url.hostname) ? undefined : this.url.hostname,
        path: req.path,
        method: req.method,
        headers,
        agent: this.agent,
        signal,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(transportError(e, signal, timeout, what, this.requestTimeoutMs)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 200 || status === 201) {
            try {
              resolve((text === '' ? undefined : JSON.parse(text)) as T);
            } catch (e) {
              reject(new Error(`${what}: decoding response: ${jsonErrorText(e)}`));
            }
          } else {
            reject(errorFromResponse(status, res.statusMessage ?? '', redact(text)));
          }
        });
      });
      r.on('error', (e) => reject(transportError(e, signal, timeout, what, this.requestTimeoutMs)));
      if (body !== undefined) r.write(body);
      r.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function isIP(host: string): boolean {
  return /^\[.*\]$/.test(host) || /^\d+\.\d+\.\d+\.\d+$/.test(host);
}

function abortReason(signal: AbortSignal, timeout: AbortSignal, what: string, ms: number): Error {
  if (timeout.aborted && signal.reason === timeout.reason) {
    return new KubeTransportError(`${what}: no answer within ${ms / 1000}s (request timeout)`, 'ETIMEDOUT', true);
  }
  const e = new Error(`${what}: ${signal.reason instanceof Error ? signal.reason.message : 'context canceled'}`);
  e.name = 'AbortError';
  return e;
}

function transportError(err: Error, signal: AbortSignal, timeout: AbortSignal, what: string, ms: number): Error {
  if (signal.aborted) return abortReason(signal, timeout, what, ms);
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new KubeTransportError(`${what}: ${redact(err.message)}`, code, false);
}
