// The HTTP client against the fake API server: auth, trust, Status decoding, timeouts, resets.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { TokenSource } from '../../src/kube/inCluster.js';
import { errorFromResponse, isInvalid, isNotFound, isTransient, KubeAPIError, KubeTransportError } from '../../src/kube/status.js';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function clientFor(a: FakeKubeApi, opts: { ca?: string; timeoutMs?: number } = {}): KubeClient {
  return new KubeClient({
    baseURL: a.url,
    ca: opts.ca ?? a.ca,
    tokens: new TokenSource(path.join(a.saDir, 'token')),
    requestTimeoutMs: opts.timeoutMs ?? 2_000,
  });
}

const secretPath = '/api/v1/namespaces/default/secrets/tailscale';

describe('KubeClient', () => {
  it('sends the bearer token and JSON accept header, and decodes the answer', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { foo: 'bar' } } });
    const c = clientFor(api);
    const s = await c.request<{ data: Record<string, string> }>({ method: 'GET', path: secretPath });
    expect(s.data).toEqual({ foo: Buffer.from('bar').toString('base64') });
    expect(api.requests[0]!.authorization).toBe(`Bearer ${api.state.token}`);
    c.close();
  });

  it('recognises 404 by the Status code and keeps the Status message', async () => {
    api = await startFakeKubeApi();
    const c = clientFor(api);
    const err = await c.request({ method: 'GET', path: secretPath }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeAPIError);
    expect(isNotFound(err)).toBe(true);
    expect((err as Error).message).toBe('secrets "tailscale" not found');
    c.close();
  });

  it('decides "not found" by the Status code, not by the HTTP status line', () => {
    const plain = errorFromResponse(404, 'Not Found', '<html>404</html>');
    expect(isNotFound(plain)).toBe(false);
    expect(plain.message).toBe('unexpected response from Kubernetes API: 404 Not Found: <html>404</html>');
    const status = errorFromResponse(500, 'Internal Server Error', JSON.stringify({ kind: 'Status', code: 404, message: 'gone' }));
    expect(isNotFound(status)).toBe(true);
    expect(status.message).toBe('gone');
  });

  it('recognises 422 by the Status code', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const c = clientFor(api);
    const err = await c.request({
      method: 'PATCH', path: secretPath, contentType: 'application/json-patch+json', body: [{ op: 'remove', path: '/data/authkey' }],
    }).catch((e: unknown) => e);
    expect(isInvalid(err)).toBe(true);
    expect((err as Error).message).toBe('jsonpatch remove operation does not apply: doc is missing key: /data/authkey');
    c.close();
  });

  it('answers 401 for a wrong token and re-reads a rotated token once', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const c = clientFor(api);
    await c.request({ method: 'GET', path: secretPath });
    api.rotateToken('rotated-token-abcdef');
    await c.request({ method: 'GET', path: secretPath });
    expect(api.requests.map((r) => [r.authorization, r.status])).toEqual([
      [expect.stringContaining('fake-sa-token'), 200],
      [expect.stringContaining('fake-sa-token'), 401],
      ['Bearer rotated-token-abcdef', 200],
    ]);
    // An unchanged token file means the 401 is real: no retry loop.
    api.rotateToken('server-only-token', false);
    const err = await c.request({ method: 'GET', path: secretPath }).catch((e: unknown) => e);
    expect((err as KubeAPIError).code).toBe(401);
    expect((err as Error).message).toBe('Unauthorized');
    expect(api.requests.length).toBe(4);
    c.close();
  });

  it('trusts only the service-account CA', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const otherDir = mkdtempSync(path.join(os.tmpdir(), 'ca-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout',
      path.join(otherDir, 'k'), '-out', path.join(otherDir, 'c'), '-days', '1', '-subj', '/CN=other'], { stdio: 'pipe' });
    const c = clientFor(api, { ca: readFileSync(path.join(otherDir, 'c'), 'utf8') });
    const err = await c.request({ method: 'GET', path: secretPath }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTransportError);
    expect((err as Error).message).toMatch(/certificate/);
    c.close();
  });

  it('times out a request that gets no answer, as a transient error', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    api.fail({ method: 'GET', hang: true });
    const c = clientFor(api, { timeoutMs: 200 });
    const err = await c.request({ method: 'GET', path: secretPath }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTransportError);
    expect((err as KubeTransportError).timedOut).toBe(true);
    expect(isTransient(err)).toBe(true);
    c.close();
  });

  it('reports a dropped connection as a transient error', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    api.fail({ method: 'GET', reset: true });
    const c = clientFor(api);
    const err = await c.request({ method: 'GET', path: secretPath }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTransportError);
    expect(isTransient(err)).toBe(true);
    c.close();
  });

  it('stops on the caller signal with an AbortError, not a timeout', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    api.fail({ method: 'GET', hang: true });
    const c = clientFor(api, { timeoutMs: 5_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await c.request({ method: 'GET', path: secretPath, signal: ac.signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(isTransient(err)).toBe(false);
    c.close();
  });

  it('reaches a server on an IPv6 loopback address', async () => {
    api = await startFakeKubeApi({ host: '::1', secrets: { tailscale: { a: 'b' } } });
    const c = clientFor(api);
    expect(api.url).toMatch(/^https:\/\/\[::1\]:\d+$/);
    await c.request({ method: 'GET', path: secretPath });
    c.close();
  });

  it('never shows the bearer token in an error, even when the server echoes it', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const c = clientFor(api);
    api.fail({ method: 'GET', status: 500, message: `token ${api.state.token} rejected by webhook` });
    const err = await c.request({ method: 'GET', path: secretPath }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('token [redacted] rejected by webhook');
    c.close();
  });

  it('applies injected latency to every answer', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} }, latencyMs: 150 });
    const c = clientFor(api);
    const t0 = Date.now();
    await c.request({ method: 'GET', path: secretPath });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(145);
    c.close();
  });

  it('classifies 5xx, 409 and 429 as transient and 403/422 as permanent', () => {
    const e = (code: number): KubeAPIError => new KubeAPIError('x', code, code, '');
    expect([500, 503, 409, 429].map((c) => isTransient(e(c)))).toEqual([true, true, true, true]);
    expect([400, 401, 403, 404, 422].map((c) => isTransient(e(c)))).toEqual([false, false, false, false, false]);
  });
});
