// containerboot against a REAL Kubernetes API server (scripts/k8s/cluster.sh: etcd, kube-apiserver,
// controller-manager, scheduler, containerd, kubelet), with upstream's ServiceAccount, Role and
// RoleBinding and a token minted with TokenRequest. containerboot and its real tailscaled run in a
// lab namespace (test/lab/lab.ts, with headscale) joined to the cluster's namespace; tailscaled
// keeps its state in the Secret through its own kubestore. Everything asserted about the Secret
// is read back from the API server. One cluster for the whole file (started once, stopped in
// afterAll even when a test fails).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type LabNode, waitFor } from '../lab/lab.js';
import { type Cluster, clusterEnv, clusterLeftovers, connectLab, hostSysctls, netnsList, startCluster, tmpDir } from '../lab/cluster.js';
import { type Tenant, tenant } from './tenant.js';
import { describePods } from './pods.suite.js';
import { describeOperator } from './operator.suite.js';
import { describeProxyGroup } from './proxygroup.suite.js';
import { describeIngressProxyGroup } from './ingressPG.suite.js';
import { describeRotation, startRotationPod } from './rotation.suite.js';
import { describeKubeRows } from './kubeRows.suite.js';

let lab: Lab;
let cluster: Cluster | undefined;
const dir = tmpDir('host');
const sysctlsBefore = hostSysctls();
const netnsBefore = netnsList();

beforeAll(async () => {
  lab = await Lab.start({ name: 'k8s' });
  cluster = await startCluster();
  await connectLab(lab);
  startRotationPod(ctx); // checked by the last test: the kubelet's rotation takes ~8 min
}, 240_000);
afterAll(async () => {
  try {
    await cluster?.stop();
  } finally {
    await lab?.teardown();
    fs.rmSync(dir, { recursive: true, force: true }); // minted service-account tokens
  }
  // Stopping leaves nothing behind (processes, mounts, netns, cgroups, the kubelet's sysctls).
  if (cluster) expect(clusterLeftovers(cluster.dir, sysctlsBefore, netnsBefore)).toEqual([]);
}, 240_000);

let nodeSeq = 0;
async function boot(t: Tenant, opts: { authKey?: boolean; hostname?: string; env?: Record<string, string>; node?: LabNode } = {}) {
  ++nodeSeq;
  const node: LabNode = opts.node ?? await lab.addNode(`k${nodeSeq}`, { lan: true });
  const hostname = opts.hostname ?? `k8s-host-${nodeSeq}`;
  const env: Record<string, string> = {
    ...clusterEnv(),
    TS_KUBE_SECRET: t.secret,
    TS_HOSTNAME: hostname,
    POD_NAME: `${hostname}-0`,
    POD_UID: `uid-${nodeSeq}`,
    ...(opts.authKey === false ? {} : { TS_AUTHKEY: await lab.createKey() }),
    ...opts.env,
  };
  const cb = lab.startContainerboot(node, { env, serviceAccountDir: t.saDir, name: `containerboot-${hostname}` });
  return { cb, node, hostname };
}

async function secretWhere(t: Tenant, what: string, pred: (s: Record<string, string>) => boolean, timeoutMs = 20_000) {
  return waitFor(what, async () => {
    const s = await t.read();
    return s && pred(s) ? s : undefined;
  }, timeoutMs, 200);
}

/** Renames the node in headscale: the new MagicDNS name reaches containerboot in the next netmap, which makes it write device_fqdn. */
async function rename(hostname: string, to: string) {
  const n = await lab.headscale.findNode(hostname);
  if (!n) throw new Error(`headscale has no node ${hostname}`);
  await lab.headscale.cli(['nodes', 'rename', '-i', String(n.id), to]);
}

describe('containerboot with the real API server and upstream RBAC', () => {
  it('state Secret created by tailscaled kubestore; device info read back; identity kept across a restart from the Secret alone', async () => {
    const t = await tenant(cluster!, dir);
    expect(await t.read()).toBeUndefined(); // upstream's sidecar flow: nobody pre-creates the Secret
    const { cb, hostname } = await boot(t);
    const s1 = await cb.waitRunning();
    await cb.waitStartupComplete(30_000);
    const secret = await secretWhere(t, 'device info in the Secret', (s) => Boolean(s.device_ips));
    expect(Object.keys(secret)).toEqual(expect.arrayContaining(['_machinekey', '_profiles', '_current-profile']));
    expect(secret.device_id).toBe(s1.Self.ID);
    expect(secret.device_fqdn).toBe(`${hostname}.lab.test.`);
    expect(secret.device_ips).toBe(JSON.stringify(s1.TailscaleIPs)); // K9: byte-identical list
    // As upstream: the boot reset (capver, pod_uid) only touches a Secret that exists at boot.
    expect(secret.pod_uid).toBeUndefined();
    expect(secret.tailscale_capver).toBeUndefined();
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);

    const again = await boot(t, { authKey: false, hostname });
    const s2 = await again.cb.waitRunning();
    expect(s2.Self.PublicKey).toBe(s1.Self.PublicKey);
    expect(s2.TailscaleIPs).toEqual(s1.TailscaleIPs);
    await again.cb.waitStartupComplete(30_000);
    const reset = (await t.read())!;
    expect(reset._machinekey).toBe(secret._machinekey);
    expect(reset.pod_uid).toBe(`uid-${nodeSeq}`);
    expect(reset.tailscale_capver).toBe('142'); // K14
    await again.cb.stop();
    expect(again.cb.proc.exitInfo?.code).toBe(0);
  }, 150_000);

  it('SSAR answers come from the real authorizer: upstream Role allows get/update/patch on the named Secret and create on any', async () => {
    const t = await tenant(cluster!, dir);
    expect(await t.can('get')).toBe(true);
    expect(await t.can('update')).toBe(true);
    expect(await t.can('patch')).toBe(true);
    expect(await t.can('create')).toBe(true);
    expect(await t.can('delete')).toBe(false);
    expect(await t.can('get', 'secrets', 'other')).toBe(false);
    expect(await t.can('create', 'events', '')).toBe(true);
    const none = await tenant(cluster!, dir, { binding: false });
    expect(await none.can('get')).toBe(false);
  }, 60_000);

  it('without patch: upstream behaviour (tailscaled state lands, containerboot writes no device info)', async () => {
    const t = await tenant(cluster!, dir, { drop: [{ verb: 'patch', named: true }] });
    expect(await t.can('patch')).toBe(false);
    const { cb } = await boot(t);
    await cb.waitRunning();
    await cb.waitStartupComplete(30_000);
    const s = await secretWhere(t, 'tailscaled state in the Secret', (x) => Boolean(x._machinekey));
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await t.read())!;
    expect(Object.keys(s).concat(Object.keys(after)).filter((k) => k.startsWith('device_'))).toEqual([]);
    expect(cb.proc.running).toBe(true);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 120_000);

  it('without get on the Secret: exit 1, the message names the permission and the Secret, nothing written', async () => {
    const t = await tenant(cluster!, dir, { drop: [{ verb: 'get', named: true }] });
    const { cb } = await boot(t);
    const exit = await cb.proc.waitExit(30_000);
    expect(exit.code).toBe(1);
    const ns = t.namespace;
    // Upstream's text, then the namespace, the rule and how to bind it (issue 10 item 3; COMPATIBILITY K15).
    expect(cb.output()).toContain('some Kubernetes permissions are missing, please check your RBAC configuration: missing get permission on secret "tailscale"; ' +
      `the service account "tailscale" may not get Secret "tailscale" in namespace "${ns}"; grant it a Role in namespace "${ns}" with the rule ` +
      '{apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["get"]} and a RoleBinding, e.g. ' +
      `kubectl -n ${ns} create role tailscale-state --verb=get --resource=secrets --resource-name=tailscale && ` +
      `kubectl -n ${ns} create rolebinding tailscale-state --role=tailscale-state --serviceaccount=${ns}:tailscale`);
    expect(await t.read()).toBeUndefined();
    expect(cb.pidsOf('tailscaled')).toEqual([]);
  }, 60_000);

  it('no RoleBinding: exit 1 naming every missing verb, nothing written', async () => {
    const t = await tenant(cluster!, dir, { binding: false });
    const { cb } = await boot(t);
    const exit = await cb.proc.waitExit(30_000);
    expect(exit.code).toBe(1);
    expect(cb.output()).toMatch(/some Kubernetes permissions are missing, please check your RBAC configuration: multiple errors:\s+missing get permission on secret "tailscale"\s+missing update permission on secret "tailscale"/);
    const ns = t.namespace;
    expect(cb.output()).toContain(`the service account "tailscale" may not get, update, patch Secret "tailscale" in namespace "${ns}"; ` +
      `grant it a Role in namespace "${ns}" with the rule {apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["get", "update", "patch"]} and a RoleBinding, e.g. ` +
      `kubectl -n ${ns} create role tailscale-state --verb=get,update,patch --resource=secrets --resource-name=tailscale && ` +
      `kubectl -n ${ns} create rolebinding tailscale-state --role=tailscale-state --serviceaccount=${ns}:tailscale`);
    expect(await t.read()).toBeUndefined();
  }, 60_000);
});

describe('faults on the real cluster', () => {
  async function running(t: Tenant) {
    const b = await boot(t);
    await b.cb.waitRunning();
    await b.cb.waitStartupComplete(30_000);
    await secretWhere(t, 'device info', (s) => Boolean(s.device_fqdn));
    return b;
  }

  /** `daemon` halted for `downMs` while a rename makes containerboot write device_fqdn; the write must land after it is back. */
  async function outage(daemon: string, downMs: number, suffix: string) {
    const t = await tenant(cluster!, dir);
    const { cb, hostname } = await running(t);
    await cluster!.script('halt', daemon);
    const t0 = Date.now();
    await rename(hostname, `${hostname}-${suffix}`);
    await new Promise((r) => setTimeout(r, Math.max(0, downMs - (Date.now() - t0))));
    await cluster!.script('resume', daemon);
    // Up to the write's retry budget (30 s) plus a request timeout (10 s) and the rename's way
    // through headscale, on a loaded 2-core machine; the log goes with a failure.
    const s = await secretWhere(t, 'renamed device_fqdn', (x) => x.device_fqdn === `${hostname}-${suffix}.lab.test.`, 90_000)
      .catch((e: Error) => { throw new Error(`${e.message}; containerboot's log:\n${cb.output().split('\n').slice(-40).join('\n')}`); });
    expect(s.device_fqdn).toBe(`${hostname}-${suffix}.lab.test.`);
    expect(cb.proc.running).toBe(true);
    expect(cb.output()).toMatch(/transient error \(attempt \d+\), retrying in/);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }

  it('API server restarted mid-run: containerboot keeps running; the device_fqdn write pending during the outage is retried (K3) and lands', () => outage('kube-apiserver', 3000, 'r'), 150_000);

  it('etcd stopped for 10 s: containerboot keeps running; the write is retried and lands once etcd is back', () => outage('etcd', 10_000, 'e'), 150_000);

  it('concurrent writer: its resourceVersion-checked updates get 409 Conflicts; containerboot`s patches and the writer`s keys both survive', async () => {
    const t = await tenant(cluster!, dir);
    const { cb, hostname } = await running(t);
    const core = cluster!.core;
    let conflicts = 0;
    let writes = 0;
    const landed = new Set<string>();
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const s = await core.readNamespacedSecret({ name: t.secret, namespace: t.namespace });
        s.data = { ...s.data, [`other-${i % 3}`]: Buffer.from(String(i)).toString('base64') };
        await new Promise((r) => setTimeout(r, 300)); // a wide read-modify-write window
        try {
          await core.replaceNamespacedSecret({ name: t.secret, namespace: t.namespace, body: s });
          writes++;
          landed.add(`other-${i % 3}`);
        } catch (e) {
          if ((e as { code?: number }).code === 409) conflicts++;
          else throw e;
        }
      }
    })();
    try {
      for (const n of ['c1', 'c2', 'c3', 'c4']) {
        await rename(hostname, `${hostname}-${n}`);
        await secretWhere(t, `device_fqdn ${n}`, (x) => x.device_fqdn === `${hostname}-${n}.lab.test.`, 30_000);
        if (conflicts > 0 && n >= 'c2') break;
      }
    } finally {
      stop = true;
      await writer;
    }
    expect(conflicts).toBeGreaterThan(0);
    expect(writes).toBeGreaterThan(0);
    const s = (await t.read())!;
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['_machinekey', 'device_id', 'device_ips', 'device_fqdn', ...landed]));
    expect(cb.proc.running).toBe(true);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 150_000);

  it('RoleBinding deleted at runtime: the next write fails with the Secret, namespace and the rule to grant (K4), exit non-zero', async () => {
    const t = await tenant(cluster!, dir);
    const { cb, hostname } = await running(t);
    await cluster!.rbac.deleteNamespacedRoleBinding({ name: 'tailscale', namespace: t.namespace });
    await waitFor('the authorizer to see the deletion', async () => !(await t.can('patch')), 10_000, 200);
    await rename(hostname, `${hostname}-d`);
    const exit = await cb.proc.waitExit(40_000);
    expect(exit.code).not.toBe(0);
    expect(cb.output()).toContain(`the service account may not patch Secret "tailscale" in namespace "${t.namespace}"; grant it a Role with the rule {apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["patch"]}`);
    expect((await t.read())!.device_fqdn).toBe(`${hostname}.lab.test.`);
  }, 150_000);

  it('ServiceAccount deleted and recreated: the old token is revoked (401); with the new token in the file (K5) the write lands', async () => {
    const t = await tenant(cluster!, dir);
    const { cb, hostname } = await running(t);
    const old = t.token;
    await cluster!.core.deleteNamespacedServiceAccount({ name: 'tailscale', namespace: t.namespace });
    await cluster!.core.createNamespacedServiceAccount({ namespace: t.namespace, body: { metadata: { name: 'tailscale' } } });
    const code = await waitFor('the old token to be rejected', async () => {
      try {
        await t.client(old).readNamespacedSecret({ name: t.secret, namespace: t.namespace });
        return undefined;
      } catch (e) {
        return (e as { code?: number }).code === 401 ? 401 : undefined;
      }
    }, 15_000, 200);
    expect(code).toBe(401);
    await t.refreshToken(cb.pid); // what the kubelet's projected volume does for a pod
    await rename(hostname, `${hostname}-s`);
    const s = await secretWhere(t, 'renamed device_fqdn', (x) => x.device_fqdn === `${hostname}-s.lab.test.`, 30_000);
    expect(s.device_fqdn).toBe(`${hostname}-s.lab.test.`);
    expect(cb.proc.running).toBe(true);
    expect(cb.output()).not.toContain(old);
    await cb.stop();
  }, 150_000);
});

const ctx = () => ({ lab, cluster: cluster!, dir });
describePods(ctx);
describeOperator(ctx);
describeProxyGroup(ctx);
describeIngressProxyGroup(ctx);
describeKubeRows(() => ({ ...ctx(), boot, secretWhere, rename }));
describeRotation(ctx); // last: it waits for the kubelet's rotation of the Pod started in beforeAll
