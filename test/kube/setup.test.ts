// setupKube against the fake API server: upstream's TestSetupKube cases, the SSAR requests and the
// Events notice.
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_NOTICE } from '../../src/kube/permissions.js';
import { startFakeKubeApi, type FakeKubeApi, type FakeKubeApiOptions } from '../support/fakeKubeApi.js';
import { captureLogs, never, rejection, settingsFor, storeFor } from './helpers.js';
import type { Settings } from '../../src/settings/types.js';

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

type Perms = [canPatch: boolean, canCreate: boolean];
const perms = ([patch, create]: Perms): FakeKubeApiOptions['permissions'] => ({ secrets: { patch, create } });

async function run(opts: FakeKubeApiOptions, over: Partial<Settings>, fault?: Parameters<FakeKubeApi['fail']>[0]) {
  api = await startFakeKubeApi(opts);
  const store = await storeFor(api, over);
  if (fault) api.fail(fault);
  try {
    return await store.setup(settingsFor(api, over), never);
  } finally {
    store.close();
  }
}

const MISSING_NO_CREATE = "tailscale state Secret tailscale does not exist and we don't have permissions to create it. If you intend to store tailscale state elsewhere than a Kubernetes Secret, you can explicitly set TS_KUBE_SECRET env var to an empty string. Else ensure that RBAC is set up that allows the service account associated with this installation to create Secrets.";

describe('TestSetupKube', () => {
  it('1: TS_AUTHKEY set, no patch/create, Secret exists ⇒ ok, settings unchanged', async () => {
    const res = await run({ secrets: { tailscale: {} }, permissions: perms([false, false]) }, { authKey: 'foo' });
    expect(res).toEqual({ canPatch: false });
  });
  it('2: TS_AUTHKEY set, create only, Secret missing ⇒ ok', async () => {
    const res = await run({ permissions: perms([false, true]) }, { authKey: 'foo' });
    expect(res).toEqual({ canPatch: false });
  });
  it('3: TS_AUTHKEY set, no create, Secret missing ⇒ error', async () => {
    await expect(run({ permissions: perms([false, false]) }, { authKey: 'foo' })).rejects.toThrow(MISSING_NO_CREATE);
  });
  it('4: TS_AUTHKEY set, GET answers 403 ⇒ error naming the Secret', async () => {
    const err = await rejection(run({ secrets: { tailscale: {} }, permissions: perms([false, false]) }, { authKey: 'foo' },
      { method: 'GET', pathIncludes: '/secrets/', status: 403, message: 'secrets "tailscale" is forbidden' }));
    expect(err.message).toMatch(/^getting Tailscale state Secret tailscale: secrets "tailscale" is forbidden: the service account may not get Secret "tailscale" in namespace "default"; grant it a Role with the rule \{apiGroups: \[""\], resources: \["secrets"\], resourceNames: \["tailscale"\], verbs: \["get"\]\}; run 'containerboot doctor' \(check "kube\.rbac"\) for details$/);
  });
  it('5: TS_AUTHKEY set, permission check fails ⇒ error', async () => {
    await expect(run({ secrets: { tailscale: {} }, permissions: { secrets: { get: false } } }, { authKey: 'foo' }))
      .rejects.toThrow('some Kubernetes permissions are missing, please check your RBAC configuration: missing get permission on secret "tailscale"');
  });
  it('6: no auth key, create only, Secret missing ⇒ ok, interactive login notice', async () => {
    const logs = captureLogs();
    const res = await run({ permissions: perms([false, true]) }, {});
    expect(res).toEqual({ canPatch: false });
    expect(logs).toContain('TS_AUTHKEY not provided and state Secret does not exist, login will be interactive if needed.');
  });
  it('7: no auth key, no patch/create, Secret without authkey ⇒ ok', async () => {
    const logs = captureLogs();
    const res = await run({ secrets: { tailscale: { foo: 'bar' } }, permissions: perms([false, false]) }, {});
    expect(res).toEqual({ canPatch: false });
    expect(logs).toContain('No authkey found in state Secret and TS_AUTHKEY not provided, login will be interactive if needed.');
  });
  it('8: no auth key, no patch, Secret with authkey ⇒ error, no key taken', async () => {
    await expect(run({ secrets: { tailscale: { authkey: 'foo' } }, permissions: perms([false, false]) }, {}))
      .rejects.toThrow("authkey found in TS_KUBE_SECRET, but the pod doesn't have patch permissions on the Secret to manage the authkey.");
  });
  it('9: no auth key, patch allowed, Secret with authkey ⇒ key taken, canPatch', async () => {
    const logs = captureLogs();
    const res = await run({ secrets: { tailscale: { authkey: 'foo' } }, permissions: perms([true, false]) }, {});
    expect(res).toEqual({ canPatch: true, authKey: 'foo' });
    expect(logs.filter((l) => l.startsWith('No authkey found'))).toEqual([]);
  });
});

describe('permission checks', () => {
  it('sends four SSARs for the Secret with upstream body shape', async () => {
    await run({ secrets: { tailscale: {} } }, { authKey: 'k' });
    const ssars = api!.requests.filter((r) => r.path.endsWith('/selfsubjectaccessreviews'));
    expect(ssars.map((r) => JSON.stringify(r.body)).sort()).toEqual(['create', 'get', 'patch', 'update'].map((verb) =>
      `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"name":"tailscale","namespace":"default","resource":"secrets","verb":"${verb}"}}}`));
  });
  it('joins two missing required verbs', async () => {
    await expect(run({ secrets: { tailscale: {} }, permissions: { secrets: { get: false, update: false } } }, {}))
      .rejects.toThrow('some Kubernetes permissions are missing, please check your RBAC configuration: multiple errors:\n\tmissing get permission on secret "tailscale"\n\tmissing update permission on secret "tailscale"');
  });
  it('appends the namespace and how to grant the missing verbs (service account from the token) to upstream`s text', async () => {
    const jwt = ['{"alg":"RS256"}', '{"sub":"system:serviceaccount:default:tailscale"}', 'sig'].map((p) => Buffer.from(p).toString('base64url')).join('.');
    const err = await rejection(run({ token: jwt, secrets: { tailscale: {} }, permissions: { secrets: { get: false } } }, {}));
    expect(err.message).toBe('some Kubernetes permissions are missing, please check your RBAC configuration: missing get permission on secret "tailscale"; ' +
      'the service account "tailscale" may not get Secret "tailscale" in namespace "default"; grant it a Role in namespace "default" with the rule ' +
      '{apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["get"]} and a RoleBinding, e.g. ' +
      'kubectl -n default create role tailscale-state --verb=get --resource=secrets --resource-name=tailscale && ' +
      'kubectl -n default create rolebinding tailscale-state --role=tailscale-state --serviceaccount=default:tailscale' + `; run 'containerboot doctor' (check "kube.rbac") for details`);
  });
  it('no RoleBinding (everything denied): the hint follows upstream`s list on its own line and asks for get, update and patch', async () => {
    const err = await rejection(run({ secrets: { tailscale: {} }, permissions: { secrets: { get: false, update: false, patch: false, create: false } } }, {}));
    const [upstream, hint] = err.message.split('\n\tmissing update permission on secret "tailscale"\n');
    expect(upstream).toBe('some Kubernetes permissions are missing, please check your RBAC configuration: multiple errors:\n\tmissing get permission on secret "tailscale"');
    // A token that is not a service-account JWT: the binding names a placeholder.
    expect(hint).toBe('the service account may not get, update, patch Secret "tailscale" in namespace "default"; grant it a Role in namespace "default" with the rule ' +
      '{apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["get", "update", "patch"]} and a RoleBinding, e.g. ' +
      'kubectl -n default create role tailscale-state --verb=get,update,patch --resource=secrets --resource-name=tailscale && ' +
      'kubectl -n default create rolebinding tailscale-state --role=tailscale-state --serviceaccount=default:<service account>' + `; run 'containerboot doctor' (check "kube.rbac") for details`);
  });
  it('treats a failed patch probe as no patch and no create, and only logs it', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi({ secrets: { tailscale: { authkey: 'foo' } } });
    const store = await storeFor(api);
    api.fail({ method: 'POST', pathIncludes: 'selfsubjectaccessreviews', status: 500, count: 1 });
    // Which of the four parallel reviews gets the 500 is up to scheduling; only get/update/patch/create
    // outcomes matter: a failed get/update check is logged only, a failed patch/create probe disables both.
    const res = await store.setup(settingsFor(api), never).catch((e: Error) => e);
    store.close();
    const failedLine = logs.find((l) => l.startsWith('error checking '));
    expect(failedLine).toMatch(/^error checking (get|update|patch|create) permission on secret tailscale: Internal error occurred: injected failure$/);
    if (/checking (patch|create)/.test(failedLine!)) {
      expect((res as Error).message).toBe("authkey found in TS_KUBE_SECRET, but the pod doesn't have patch permissions on the Secret to manage the authkey.");
    } else {
      expect(res).toEqual({ canPatch: true, authKey: 'foo' });
    }
  });
});

describe('Events permission notice', () => {
  it('is logged when POD_NAME/POD_UID are missing, without asking the API', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi();
    (await storeFor(api)).close();
    expect(logs).toEqual([EVENTS_NOTICE]);
    expect(api.requests).toEqual([]);
  });
  it('is not logged when get/create/patch on events are allowed', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi();
    (await storeFor(api, { podName: 'p-0', podUID: 'uid' })).close();
    expect(logs).toEqual([]);
    expect(api.requests.map((r) => (r.body as { spec: { resourceAttributes: { verb: string; resource: string } } }).spec.resourceAttributes)
      .map((a) => `${a.resource}:${a.verb}`).sort()).toEqual(['events:create', 'events:get', 'events:patch']);
  });
  it('is logged when one verb is denied', async () => {
    const logs = captureLogs();
    api = await startFakeKubeApi({ permissions: { events: { patch: false } } });
    (await storeFor(api, { podName: 'p-0', podUID: 'uid' })).close();
    expect(logs).toEqual([EVENTS_NOTICE]);
    expect(EVENTS_NOTICE.split('\n')[0]).toBe('kubeclient: this client is not able to write tailscaled Events to the Pod in which it is running.');
  });
});
