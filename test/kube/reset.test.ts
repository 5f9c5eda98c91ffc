// Boot reset (upstream TestResetContainerbootState) and the pure key rules.
import { afterEach, describe, expect, it } from 'vitest';
import { CAPABILITY_VERSION } from '../../src/capver.js';
import { reissueClearData, resetData } from '../../src/kube/reset.js';
import { strategicMergeBody } from '../../src/kube/secretBodies.js';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';
import { never, settingsFor, storeFor } from './helpers.js';

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const capver = String(CAPABILITY_VERSION);
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const base = { tailscale_capver: b64(capver), https_endpoint: null, 'egress-services': null, 'ingress-config.json': null };

async function reset(initial: Record<string, string>, podUID: string, configAuthKey: string) {
  api = await startFakeKubeApi({ secrets: { tailscale: initial } });
  const store = await storeFor(api);
  await store.resetState(settingsFor(api, { podUID }), configAuthKey, never);
  store.close();
  const patches = api.requests.filter((r) => r.method === 'PATCH');
  expect(patches).toHaveLength(1);
  expect(patches[0]!.query).toEqual({ fieldManager: 'tailscale-container' });
  expect(patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
  return { body: patches[0]!.body as { metadata: unknown; data: Record<string, string | null> }, after: api.secret('tailscale')! };
}

const fullSecret = {
  device_id: 'id', device_fqdn: 'n.ts.net.', device_ips: '["100.64.0.1"]', _machinekey: 'mk', '_current-profile': 'profile-1',
  _profiles: '{}', 'profile-1': 'p', https_endpoint: 'n.ts.net', 'egress-services': '{}', 'ingress-config.json': '{}',
  tailscale_capver: '100', pod_uid: 'old', foo: 'bar',
};

describe('TestResetContainerbootState', () => {
  it('empty_initial', async () => {
    const { body } = await reset({}, '1234', '');
    expect(body).toEqual({
      metadata: { name: 'tailscale', namespace: 'default', creationTimestamp: '0001-01-01T00:00:00Z' },
      data: { ...base, pod_uid: b64('1234') },
    });
  });
  it('empty_initial_no_pod_uid', async () => {
    expect((await reset({}, '', '')).body.data).toEqual(base);
  });
  it('only_relevant_keys_updated', async () => {
    const { body, after } = await reset(fullSecret, '1234', '');
    expect(body.data).toEqual({ ...base, pod_uid: b64('1234') });
    expect(after).toEqual({
      device_id: 'id', device_fqdn: 'n.ts.net.', device_ips: '["100.64.0.1"]', _machinekey: 'mk', '_current-profile': 'profile-1',
      _profiles: '{}', 'profile-1': 'p', tailscale_capver: capver, pod_uid: '1234', foo: 'bar',
    });
  });
  it('new_authkey_issued', async () => {
    const { body, after } = await reset({ reissue_authkey: 'old-authkey' }, '1234', 'new-authkey');
    expect(body.data).toEqual({ ...base, pod_uid: b64('1234'), reissue_authkey: null });
    expect(after.reissue_authkey).toBeUndefined();
  });
  it('authkey_not_yet_updated', async () => {
    expect((await reset({ reissue_authkey: 'old-authkey' }, '1234', 'old-authkey')).body.data).toEqual({ ...base, pod_uid: b64('1234') });
  });
  it('authkey_deleted_from_config', async () => {
    expect((await reset({ reissue_authkey: 'old-authkey' }, '1234', '')).body.data).toEqual({ ...base, pod_uid: b64('1234') });
  });
});

describe('boot reset edge cases', () => {
  it('does nothing when the Secret does not exist', async () => {
    api = await startFakeKubeApi();
    const store = await storeFor(api);
    await store.resetState(settingsFor(api, { podUID: '1' }), '', never);
    store.close();
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
  });
  it('fails with upstream text when the Secret cannot be read', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    api.fail({ method: 'GET', status: 500 });
    await expect(store.resetState(settingsFor(api), '', never)).rejects.toThrow(
      'failed to read state Secret "tailscale" to reset state: Internal error occurred: injected failure');
    store.close();
  });
  it('encodes the body byte for byte like upstream (data keys sorted, as Go encodes a map)', () => {
    expect(JSON.stringify(strategicMergeBody('ns', 'tailscale', resetData({}, 'u', '')))).toBe(
      '{"metadata":{"name":"tailscale","namespace":"ns","creationTimestamp":"0001-01-01T00:00:00Z"},' +
      `"data":{"egress-services":null,"https_endpoint":null,"ingress-config.json":null,"pod_uid":"dQ==","tailscale_capver":"${b64(capver)}"}}`);
  });
  it('clears the seven reissue keys plus the current profile', () => {
    expect(reissueClearData({ '_current-profile': 'profile-abc' })).toEqual({
      reissue_authkey: null, device_id: null, device_fqdn: null, device_ips: null, _machinekey: null,
      '_current-profile': null, _profiles: null, 'profile-abc': null,
    });
    expect(Object.keys(reissueClearData({}))).toHaveLength(7);
  });
});
