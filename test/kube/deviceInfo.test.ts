// Device info writes, authkey deletion and the fault handling around them.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';
import { captureLogs, never, rejection, storeFor } from './helpers.js';

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const patches = (a: FakeKubeApi) => a.requests.filter((r) => r.method === 'PATCH');

describe('device info', () => {
  it('stores device_id, then device_fqdn + device_ips in one patch, byte-exact', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { foo: 'bar' } } });
    const store = await storeFor(api);
    await store.storeDeviceID('nABCDEF1CNTRL', never);
    await store.storeDeviceEndpoints('test-node.test.ts.net.', ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'], never);
    store.close();
    expect(api.secret('tailscale')).toEqual({
      foo: 'bar', device_id: 'nABCDEF1CNTRL', device_fqdn: 'test-node.test.ts.net.', device_ips: '["100.64.0.1","fd7a:115c:a1e0::1"]',
    });
    const p = patches(api);
    expect(p.map((r) => [r.contentType, r.query.fieldManager])).toEqual([
      ['application/strategic-merge-patch+json', 'tailscale-container'], ['application/strategic-merge-patch+json', 'tailscale-container']]);
    expect(p[1]!.body).toEqual({
      metadata: { name: 'tailscale', namespace: 'default', creationTimestamp: '0001-01-01T00:00:00Z' },
      data: { device_fqdn: Buffer.from('test-node.test.ts.net.').toString('base64'), device_ips: Buffer.from('["100.64.0.1","fd7a:115c:a1e0::1"]').toString('base64') },
    });
  });

  it('writes a single address as ["100.64.0.1"]', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    await store.storeDeviceEndpoints('n.', ['100.64.0.1'], never);
    store.close();
    expect(api.secret('tailscale')!.device_ips).toBe('["100.64.0.1"]');
  });

  it('retries API 500s and logs each retry', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    api.fail({ method: 'PATCH', status: 500, count: 2 });
    await store.storeDeviceID('id1', never);
    store.close();
    expect(api.secret('tailscale')!.device_id).toBe('id1');
    expect(patches(api).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(logs.filter((l) => l.includes('transient error'))).toEqual([
      expect.stringMatching(/^storing device ID in Kubernetes Secret: transient error \(attempt 1\), retrying in \d\.\ds: Internal error occurred: injected failure$/),
      expect.stringMatching(/^storing device ID in Kubernetes Secret: transient error \(attempt 2\), retrying in \d\.\ds: /),
    ]);
  });

  it('retries a request that times out', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api, {}, { requestTimeoutMs: 150 });
    api.fail({ method: 'PATCH', hang: true });
    await store.storeDeviceEndpoints('n.', ['100.64.0.1'], never);
    store.close();
    expect(api.secret('tailscale')!.device_fqdn).toBe('n.');
  });

  it('retries a 409 conflict and a connection reset', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    api.fail({ method: 'PATCH', status: 409 });
    api.fail({ method: 'PATCH', reset: true });
    await store.storeDeviceID('id2', never);
    store.close();
    expect(api.secret('tailscale')!.device_id).toBe('id2');
    expect(patches(api).map((r) => r.status)).toEqual([409, 0, 200]);
  });

  it('gives up after the retry budget with the last error', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api, {}, { writeRetryBudgetMs: 700 });
    api.fail({ method: 'PATCH', status: 503, count: 100 });
    const err = await rejection(store.storeDeviceID('id', never));
    store.close();
    expect(err.message).toMatch(/^The server is currently unable to handle the request \(gave up after \d+ attempts in \d+\.\ds\)$/);
  });

  it('stops retrying when the signal aborts (SIGTERM)', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api, {}, { writeRetryBudgetMs: 60_000 });
    api.fail({ method: 'PATCH', status: 500, count: 100 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    await expect(store.storeDeviceID('id', ac.signal)).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(2_000);
    store.close();
  });

  it('fails at once on 403 with the Secret, the verb and the RBAC rule', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} }, permissions: { secrets: { patch: false } } });
    const store = await storeFor(api);
    const err = await rejection(store.storeDeviceID('id', never));
    store.close();
    expect(err.message).toBe('secrets "tailscale" is forbidden: User "system:serviceaccount:default:tailscale" cannot patch resource "secrets" in API group "" in the namespace "default"' +
      ': the service account may not patch Secret "tailscale" in namespace "default"; grant it a Role with the rule {apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["patch"]}; run \'containerboot doctor\' (check "kube.rbac") for details');
    expect(patches(api)).toHaveLength(1);
  });

  it('retries 403/401 that follow an outage (a restarted API server before its RBAC caches sync)', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    api.fail({ method: 'PATCH', reset: true });
    api.fail({ method: 'PATCH', status: 403 });
    api.fail({ method: 'PATCH', status: 401 });
    await store.storeDeviceID('id3', never);
    store.close();
    expect(api.secret('tailscale')!.device_id).toBe('id3');
    expect(patches(api).map((r) => r.status)).toEqual([0, 403, 401, 200]);
    expect(logs.filter((l) => l.includes('transient error'))).toHaveLength(3);
  });

  it('fails at once on an unexpected 422, naming the Secret', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    api.fail({ method: 'PATCH', status: 422, message: 'Secret "tailscale" is invalid: data[device_id]: Invalid value' });
    const err = await rejection(store.storeDeviceID('id', never));
    store.close();
    expect(err.message).toBe('Secret "tailscale" is invalid: data[device_id]: Invalid value: the API server rejected the patch of Secret "tailscale" in namespace "default" as invalid');
  });

  it('rides out a Secret deleted mid-run once tailscaled re-creates it', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { device_id: 'old' } } });
    const store = await storeFor(api);
    api.deleteSecret('tailscale');
    setTimeout(() => api!.setSecret('tailscale', { _machinekey: 'mk' }), 400);
    await store.storeDeviceID('new', never);
    store.close();
    expect(api.secret('tailscale')).toEqual({ _machinekey: 'mk', device_id: 'new' });
  });

  it('reports a Secret that stays deleted, by name', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api, {}, { writeRetryBudgetMs: 500 });
    api.deleteSecret('tailscale');
    const err = await rejection(store.storeDeviceID('id', never));
    store.close();
    expect(err.message).toMatch(/^secrets "tailscale" not found: Secret "tailscale" in namespace "default" no longer exists( \(gave up after \d+ attempts in \d+\.\ds\))?$/);
  });

  it('recovers from token rotation (401 then success) without an error', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    await store.storeDeviceID('a', never);
    api.rotateToken('new-token-after-rotation');
    await store.storeDeviceID('b', never);
    store.close();
    expect(patches(api).map((r) => r.status)).toEqual([200, 401, 200]);
    expect(api.secret('tailscale')!.device_id).toBe('b');
  });
});

describe('deleteAuthKey', () => {
  it('removes authkey with a JSON patch', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { authkey: 'tskey-1', foo: 'x' } } });
    const store = await storeFor(api);
    await store.deleteAuthKey(never);
    store.close();
    expect(api.secret('tailscale')).toEqual({ foo: 'x' });
    const p = patches(api)[0]!;
    expect(p.contentType).toBe('application/json-patch+json');
    expect(p.query).toEqual({});
    expect(p.body).toEqual([{ op: 'remove', path: '/data/authkey' }]);
  });
  it('tolerates 422 when the key is already gone', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    await store.deleteAuthKey(never);
    store.close();
    expect(patches(api).map((r) => r.status)).toEqual([422]);
  });
});

describe('patchKeys / getSecret / replaceKey', () => {
  it('patches with null deletes, reads decoded data, replaces a missing key', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { https_endpoint: 'old', keep: 'k' } } });
    const store = await storeFor(api);
    await store.patchKeys({ https_endpoint: null, reissue_authkey: '' }, never);
    expect(await store.getSecret(never)).toEqual({ keep: 'k', reissue_authkey: '' });
    await store.replaceKey('egress-services', '{"svc":{}}', never);
    expect(api.secret('tailscale')!['egress-services']).toBe('{"svc":{}}');
    const last = patches(api).at(-1)!;
    expect(last.body).toEqual([{ op: 'replace', path: '/data/egress-services', value: Buffer.from('{"svc":{}}').toString('base64') }]);
    api.deleteSecret('tailscale');
    expect(await store.getSecret(never)).toBeUndefined();
    store.close();
  });

  it('replaceKey is one PATCH (no GET); a missing Secret fails with the not-found explanation', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { keep: 'k' } } });
    const store = await storeFor(api);
    const before = api.requests.length;
    await store.replaceKey('egress-services', '{}', never);
    expect(api.requests.slice(before).map((r) => r.method)).toEqual(['PATCH']);
    api.deleteSecret('tailscale');
    await expect(store.replaceKey('egress-services', '{}', never)).rejects.toThrow('secrets "tailscale" not found: Secret "tailscale" in namespace "default" no longer exists');
    store.close();
  });
});
