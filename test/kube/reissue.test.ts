// Auth-key reissue flow against the fake API, with real chokidar on a kubelet-style config dir.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reissueAuthKey } from '../../src/kube/reissue.js';
import { LocalAPIError, type LocalAPIResponse } from '../../src/localapi/client.js';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';
import { writeAtomically } from './atomicWriter.js';
import { captureLogs, rejection, storeFor } from './helpers.js';

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function fakeLocalAPI(fail?: Error) {
  const calls: string[] = [];
  return {
    calls,
    call: async (method: string, p: string): Promise<LocalAPIResponse> => {
      calls.push(`${method} ${p}`);
      if (fail) throw fail;
      return { status: 200, statusText: 'OK', headers: {}, body: '' };
    },
  };
}

const cfg = (key: string): string => `{\n  "Version": "alpha0",\n  "AuthKey": "${key}", // from the operator\n}\n`;
const waitFor = async (cond: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const stateKeys = {
  device_id: 'id', device_fqdn: 'n.ts.net.', device_ips: '["100.64.0.1"]', _machinekey: 'mk', '_current-profile': 'profile-abcd',
  _profiles: '{}', 'profile-abcd': 'p', 'profile-other': 'q', tailscale_capver: '142', foo: 'bar',
};

async function prepare() {
  api = await startFakeKubeApi({ secrets: { tailscale: { ...stateKeys } } });
  const store = await storeFor(api);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reissue-'));
  writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-old') });
  return { store, dir, file: path.join(dir, 'cap-95.hujson') };
}

describe('reissueAuthKey', () => {
  it('disconnects, requests a key, wakes on the ..data swap and clears the state keys', async () => {
    const { store, dir, file } = await prepare();
    const logs = captureLogs();
    const local = fakeLocalAPI();
    const ac = new AbortController();
    const t0 = Date.now();
    const done = reissueAuthKey({ store, localAPI: local, configFilePath: file, oldAuthKey: 'tskey-old', signal: ac.signal, tickMs: 60_000 });
    await waitFor(() => api!.secret('tailscale')!.reissue_authkey === 'tskey-old');
    expect(local.calls).toEqual(['POST /localapi/v0/disconnect-control']);
    await waitFor(() => logs.includes('Waiting for operator to provide new auth key (max wait: 10m0s)'));
    writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-old') }); // not a new key yet
    await new Promise((r) => setTimeout(r, 200));
    writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-new') });
    await done;
    // Woken by the swap, not by the (one minute) tick.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(api!.secret('tailscale')).toEqual({ 'profile-other': 'q', tailscale_capver: '142', foo: 'bar' });
    expect(logs).toEqual([
      'Requesting a new auth key from operator',
      'auth key reissue: watching for config changes via fsnotify',
      'Waiting for operator to provide new auth key (max wait: 10m0s)',
      expect.stringMatching(/^New auth key received from operator after [\d.]+m?s$/),
    ]);
    const patch = api!.requests.filter((r) => r.method === 'PATCH').at(-1)!;
    expect(patch.query.fieldManager).toBe('tailscale-container');
    expect(Object.keys((patch.body as { data: object }).data).sort()).toEqual(
      ['_current-profile', '_machinekey', '_profiles', 'device_fqdn', 'device_id', 'device_ips', 'profile-abcd', 'reissue_authkey']);
    store.close();
  });

  it('writes an empty reissue_authkey when the config had no key', async () => {
    const { store, dir, file } = await prepare();
    const ac = new AbortController();
    writeAtomically(dir, { 'cap-95.hujson': '{"Version":"alpha0"}' });
    const done = reissueAuthKey({ store, localAPI: fakeLocalAPI(), configFilePath: file, oldAuthKey: '', signal: ac.signal, tickMs: 50 });
    await waitFor(() => api!.secret('tailscale')!.reissue_authkey === '');
    writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-fresh') });
    await done;
    store.close();
  });

  it('polls every tick when the watch cannot be set up, logging the elapsed time', async () => {
    const { store, dir, file } = await prepare();
    const logs = captureLogs();
    const broken = (() => { throw new Error('no inotify'); }) as never;
    const done = reissueAuthKey({
      store, localAPI: fakeLocalAPI(), configFilePath: file, oldAuthKey: 'tskey-old', signal: new AbortController().signal, tickMs: 40, watch: broken,
    });
    await waitFor(() => logs.filter((l) => l.startsWith('Waiting for new auth key from operator (')).length >= 2);
    expect(logs).toContain('auth key reissue: fsnotify watch failed, using polling: no inotify');
    expect(logs.find((l) => l.startsWith('Waiting for new auth key'))).toMatch(/^Waiting for new auth key from operator \(\d+m?s elapsed\)$/);
    writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-new') });
    await done;
    store.close();
  });

  it('gives up after the limit with upstream\'s message', async () => {
    const { store, file } = await prepare();
    const err = await rejection(reissueAuthKey({
      store, localAPI: fakeLocalAPI(), configFilePath: file, oldAuthKey: 'tskey-old', signal: new AbortController().signal, tickMs: 30, limitMs: 200,
    }));
    expect(err.message).toBe('failed to receive new auth key: timeout waiting for auth key reissue after 200ms');
    store.close();
  });

  it('fails when disconnect-control fails', async () => {
    const { store, file } = await prepare();
    const err = await rejection(reissueAuthKey({
      store, localAPI: fakeLocalAPI(new LocalAPIError('Access denied: disconnect access denied', 403, '')), configFilePath: file,
      oldAuthKey: 'tskey-old', signal: new AbortController().signal,
    }));
    expect(err.message).toBe('error disconnecting from control: Access denied: disconnect access denied');
    expect(api!.secret('tailscale')!.reissue_authkey).toBeUndefined();
    store.close();
  });

  it('only logs a failure to clear the request', async () => {
    const { store, dir, file } = await prepare();
    const logs = captureLogs();
    const done = reissueAuthKey({ store, localAPI: fakeLocalAPI(), configFilePath: file, oldAuthKey: 'tskey-old', signal: new AbortController().signal, tickMs: 50 });
    await waitFor(() => logs.some((l) => l.startsWith('Waiting for operator')));
    api!.fail({ method: 'GET', status: 500 });
    writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-new') });
    await done;
    expect(logs.at(-1)).toBe('Warning: failed to clear reissue request: Internal error occurred: injected failure');
    store.close();
  });

  it('stops with an AbortError when the root signal aborts', async () => {
    const { store, file } = await prepare();
    const ac = new AbortController();
    const done = reissueAuthKey({ store, localAPI: fakeLocalAPI(), configFilePath: file, oldAuthKey: 'tskey-old', signal: ac.signal });
    await waitFor(() => api!.secret('tailscale')!.reissue_authkey === 'tskey-old');
    const t0 = Date.now();
    ac.abort();
    expect((await rejection(done)).name).toBe('AbortError');
    // Not held until the next 5 s tick.
    expect(Date.now() - t0).toBeLessThan(1_000);
    store.close();
  });
});
