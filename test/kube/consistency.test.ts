// Shutdown consistent-state wait (upstream TestWaitForConsistentState, §2.6 step 3).
import { afterEach, describe, expect, it } from 'vitest';
import { consistencyBackoffMs, isConsistentState } from '../../src/kube/consistency.js';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';
import { captureLogs, storeFor } from './helpers.js';

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('isConsistentState', () => {
  it.each([
    [[], true],
    [['foo', 'device_id'], true],
    [['_current-profile', '_profiles', '_machinekey', 'profile-a'], true],
    [['_profiles', '_machinekey', 'profile-a'], false],
    [['_current-profile', '_profiles', '_machinekey'], false],
    [['_current-profile', '_profiles', '_machinekey', 'profile-a', 'profile-b'], false],
    [['profile-a'], false],
  ])('%j ⇒ %s', (keys, want) => {
    expect(isConsistentState(keys)).toBe(want);
  });
  it('backs off n²·10 ms up to 2 s, jittered 0.5–1.5', () => {
    expect([1, 2, 3, 10, 20, 100].map((n) => consistencyBackoffMs(n, () => 0.5))).toEqual([10, 40, 90, 1000, 2000, 2000]);
    expect(consistencyBackoffMs(3, () => 0)).toBe(45);
    expect(consistencyBackoffMs(3, () => 0.999)).toBeCloseTo(134.9, 0);
  });
});

describe('TestWaitForConsistentState', () => {
  it('waits until the deadline while _current-profile is missing, then returns once it is there', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { _profiles: '{}', _machinekey: 'mk', 'profile-foo': 'p' } } });
    const store = await storeFor(api);
    const logs = captureLogs();
    const t0 = Date.now();
    expect(await store.waitConsistent(AbortSignal.timeout(1_000))).toBe('timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(990);
    expect(logs).toEqual([
      'Waiting for tailscaled to finish writing state to Secret "tailscale"',
      'Error waiting for consistent state on shutdown: context deadline exceeded',
    ]);
    api.setSecret('tailscale', { ...api.secret('tailscale'), '_current-profile': 'profile-foo' });
    expect(await store.waitConsistent(AbortSignal.timeout(1_000))).toBe('consistent');
    store.close();
  });

  it('SIGTERM while state is half written: returns as soon as tailscaled finishes writing', async () => {
    api = await startFakeKubeApi({ secrets: { tailscale: { _machinekey: 'mk', 'profile-a': 'p' } } });
    const store = await storeFor(api);
    setTimeout(() => api!.setSecret('tailscale', { ...api!.secret('tailscale'), _profiles: '{}' }), 150);
    setTimeout(() => api!.setSecret('tailscale', { ...api!.secret('tailscale'), '_current-profile': 'profile-a' }), 300);
    const t0 = Date.now();
    expect(await store.waitConsistent(AbortSignal.timeout(25_000))).toBe('consistent');
    expect(Date.now() - t0).toBeLessThan(3_000);
    store.close();
  });

  it('returns at once when the Secret does not exist', async () => {
    api = await startFakeKubeApi();
    const store = await storeFor(api);
    expect(await store.waitConsistent(AbortSignal.timeout(5_000))).toBe('missing');
    store.close();
  });

  it('logs GET errors and keeps trying', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi({ secrets: { tailscale: {} } });
    const store = await storeFor(api);
    api.fail({ method: 'GET', status: 500 });
    expect(await store.waitConsistent(AbortSignal.timeout(5_000))).toBe('consistent');
    expect(logs).toContain('Error waiting for consistent state on shutdown: getting Secret "tailscale": Internal error occurred: injected failure');
    store.close();
  });
});
