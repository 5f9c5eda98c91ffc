// bin/containerboot in Kubernetes mode against the fake Kubernetes API (TLS) and the fake
// LocalAPI/tailscaled/tailscale: the Secret as upstream leaves it, and shutdown ordering.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CAPABILITY_VERSION } from '../../src/capver.js';
import { startFakeKubeApi, type FakeKubeApi, type FakeKubeApiOptions } from '../support/fakeKubeApi.js';
import { Scenario, goRunning, selfNode } from '../support/harness.js';
import { writeAtomically } from './atomicWriter.js';

let scn: Scenario | undefined;
let api: FakeKubeApi | undefined;
afterEach(async () => {
  await scn?.cleanup();
  await api?.close();
  scn = undefined;
  api = undefined;
});

const upToRunning = (call: { args: string[] }, a: Parameters<typeof goRunning>[0]) => {
  if (call.args.includes('up')) goRunning(a);
  return 0;
};

async function start(kube: Omit<FakeKubeApiOptions, 'root'>, env: Record<string, string>) {
  const scnEnv: Record<string, string> = { TS_USERSPACE: 'true', ...env };
  scn = new Scenario({ env: scnEnv });
  // The scenario's TS_TEST_ONLY_ROOT holds the fake API's service-account files.
  api = await startFakeKubeApi({ ...kube, root: scn.root });
  Object.assign(scnEnv, api.env);
  scn.api.cliHandler = upToRunning;
  return scn.start();
}

// What tailscaled's kubestore leaves behind after a complete write.
const tailscaledState = { _machinekey: 'mk', _profiles: '{}', '_current-profile': 'profile-a', 'profile-a': 'p' };

describe('kube mode boot', () => {
  it('resets the Secret, stores device info after Running and keeps tailscaled state', async () => {
    const s = await start(
      { secrets: { tailscale: { https_endpoint: 'old.ts.net', 'egress-services': '{}', device_id: 'old', ...tailscaledState, foo: 'bar' } } },
      { TS_AUTHKEY: 'tskey-abc', POD_UID: 'uid-123', POD_NAME: 'proxy-0' },
    );
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands()[0]).toContain('--state=kube:tailscale');
    await s.waitFor(() => api!.secret('tailscale')!.device_fqdn !== undefined, 'device_fqdn in the Secret');
    expect(api!.secret('tailscale')).toEqual({
      tailscale_capver: String(CAPABILITY_VERSION), pod_uid: 'uid-123', device_id: 'nSelf1CNTRL', device_fqdn: 'test-node.test.ts.net.',
      device_ips: '["100.64.0.1"]', ...tailscaledState, foo: 'bar',
    });
    const patches = api!.requests.filter((r) => r.method === 'PATCH').map((r) => Object.keys((r.body as { data: object }).data).sort().join(','));
    expect(patches).toEqual([
      'egress-services,https_endpoint,ingress-config.json,pod_uid,tailscale_capver',
      'device_id',
      'device_fqdn,device_ips',
    ]);
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
    expect(s.hasLog('Checking for consistent state')).toBe(true);
  });

  it('auth-once: uses the Secret authkey, then deletes it after Running', async () => {
    const s = await start({ secrets: { tailscale: { authkey: 'tskey-from-secret' } } }, { TS_AUTH_ONCE: 'true' });
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands().find((c) => c.includes(' up '))).toContain('--authkey=tskey-from-secret');
    expect(s.hasLog('Deleting authkey from Kubernetes Secret')).toBe(true);
    expect(api!.secret('tailscale')!.authkey).toBeUndefined();
    expect(s.lines.join('\n')).not.toContain('tskey-from-secret');
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
  });

  it('SIGTERM while tailscaled state is half written: waits, then stops tailscaled', async () => {
    const s = await start({ secrets: { tailscale: {} } }, { TS_AUTHKEY: 'tskey-abc' });
    await s.waitLog('Startup complete, waiting for shutdown signal');
    api!.setSecret('tailscale', { ...api!.secret('tailscale'), _machinekey: 'mk', _profiles: '{}', 'profile-a': 'p' });
    s.signal('SIGTERM');
    await s.waitLog('Waiting for tailscaled to finish writing state to Secret "tailscale"');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.invocations().some((i) => i.event === 'SIGTERM')).toBe(false);
    api!.setSecret('tailscale', { ...api!.secret('tailscale'), '_current-profile': 'profile-a' });
    expect((await s.waitExit()).code).toBe(0);
    expect(s.invocations().some((i) => i.event === 'SIGTERM')).toBe(true);
  });

  it('API 500s on the device-info write are retried: startup still completes', async () => {
    const s = await start({ secrets: { tailscale: {} } }, { TS_AUTHKEY: 'tskey-abc' });
    // The boot reset goes through; the next two PATCHes (device_id) fail.
    await s.waitFor(() => api!.requests.some((r) => r.method === 'PATCH'), 'boot reset patch');
    api!.fail({ method: 'PATCH', status: 500, count: 2 });
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.messages().filter((m) => m.startsWith('storing device ID in Kubernetes Secret: transient error'))).toHaveLength(2);
    expect(api!.secret('tailscale')!.device_id).toBe('nSelf1CNTRL');
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
  });

  it('missing RBAC permission: exits 1 naming the verb and the Secret, spawns nothing', async () => {
    const s = await start({ secrets: { tailscale: {} }, permissions: { secrets: { update: false } } }, { TS_AUTHKEY: 'tskey-abc' });
    expect((await s.waitExit()).code).toBe(1);
    expect(s.hasLog('error setting up for running on Kubernetes: some Kubernetes permissions are missing, please check your RBAC configuration: missing update permission on secret "tailscale"; ' +
      'the service account may not update Secret "tailscale" in namespace "default"; grant it a Role in namespace "default" with the rule ' +
      '{apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["update"]} and a RoleBinding, e.g. ' +
      'kubectl -n default create role tailscale-state --verb=update --resource=secrets --resource-name=tailscale && ' +
      'kubectl -n default create rolebinding tailscale-state --role=tailscale-state --serviceaccount=default:<service account>' + `; run 'containerboot doctor' (check "kube.rbac") for details`)).toBe(true);
    expect(s.invocations()).toEqual([]);
  });
});

describe('one-step mode (TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR) with the state Secret', () => {
  const cfg = (key: string): string => `{"Version":"alpha0","AuthKey":"${key}","Hostname":"proxy"}`;
  const configDir = (key: string): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cb-kube-cfg-'));
    writeAtomically(dir, { 'cap-95.hujson': cfg(key) });
    return dir;
  };

  it('NeedsLogin: requests a new key through the Secret, waits for the ..data swap, clears state, exits 0', async () => {
    const dir = configDir('tskey-old');
    const s = await start({ secrets: { tailscale: { ...tailscaledState, device_id: 'old-id' } } }, { TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: dir });
    await s.waitLog('Auth key missing or invalid (NeedsLogin state), disconnecting from control and requesting new key from operator');
    await s.waitFor(() => api!.secret('tailscale')?.reissue_authkey === 'tskey-old', 'reissue_authkey in the Secret');
    expect(s.api.requests.some((r) => r.method === 'POST' && r.path === '/localapi/v0/disconnect-control')).toBe(true);
    await s.waitLog('Waiting for operator to provide new auth key (max wait: 10m0s)');
    writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-new') });
    expect((await s.waitExit()).code).toBe(0);
    expect(s.hasLog('Successfully received new auth key, restarting to apply configuration')).toBe(true);
    expect(api!.secret('tailscale')).toEqual({ tailscale_capver: String(CAPABILITY_VERSION) });
    expect(s.lines.join('\n')).not.toContain('tskey-new');
  });

  it('reloads tailscaled\'s config when kubelet swaps in a changed file', async () => {
    const dir = configDir('tskey-1');
    const kube = { secrets: { tailscale: { ...tailscaledState } } };
    const scnEnv: Record<string, string> = { TS_USERSPACE: 'true', TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: dir };
    scn = new Scenario({ env: scnEnv });
    api = await startFakeKubeApi({ ...kube, root: scn.root });
    Object.assign(scnEnv, api.env);
    scn.api.self = selfNode();
    scn.api.state = 'Running';
    const s = await scn.start();
    await s.waitLog('Startup complete, waiting for shutdown signal');
    // The watch starts after the auth loop and logs nothing when ready (as upstream); a swap before
    // that is folded into its baseline. Keep swapping in new bytes until one is picked up.
    for (let i = 0; !s.hasLog('tailscaled config watch: config was reloaded') && i < 40; i++) {
      writeAtomically(dir, { 'cap-95.hujson': cfg('tskey-1').replace('"proxy"', `"proxy-${i}"`) });
      await new Promise((r) => setTimeout(r, 250));
    }
    await s.waitLog('tailscaled config watch: config was reloaded');
    expect(new Set(s.api.requests.filter((r) => r.path === '/localapi/v0/reload-config').map((r) => r.method))).toEqual(new Set(['POST']));
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
  });
});
