// The operator's per-proxy pod as the operator generates it (cmd/k8s-operator/sts.go of
// tailscale.com@v1.102.3, read for facts): the StatefulSet template deploy/manifests/proxy.yaml,
// the operator's `proxies` ServiceAccount/Role/RoleBinding from deploy/manifests/operator.yaml,
// plus what sts.go adds — TS_KUBE_SECRET=$(POD_NAME), TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR=
// /etc/tsconfig/$(POD_NAME), the per-replica Secret `<sts>-0` mounted there (one-step mode: the
// same Secret holds cap-N.hujson and the state), and the egress target. Only `image:` swapped.
import * as k8s from '@kubernetes/client-node';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { LOGIN_SERVER, waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, ensurePodImages, onImage, podLogs, waitPodRunning, webContainer, webPod } from '../lab/cluster-pods.js';
import { UPSTREAM } from './tenant.js';

type Ctx = () => { lab: Lab; cluster: Cluster; dir: string };

function operatorObjects(namespace: string) {
  const docs = k8s.loadAllYaml(fs.readFileSync(path.join(UPSTREAM, 'deploy', 'manifests', 'operator.yaml'), 'utf8')) as k8s.KubernetesObject[];
  const pick = <T extends k8s.KubernetesObject>(kind: string) => {
    const o = docs.find((d) => d.kind === kind && d.metadata?.name === 'proxies') as T | undefined;
    if (!o) throw new Error(`operator.yaml has no ${kind} proxies`);
    o.metadata!.namespace = namespace;
    return o;
  };
  const binding = pick<k8s.V1RoleBinding>('RoleBinding');
  for (const s of binding.subjects ?? []) s.namespace = namespace;
  return { sa: pick<k8s.V1ServiceAccount>('ServiceAccount'), role: pick<k8s.V1Role>('Role'), binding };
}

const hujson = (key: string, hostname: string) =>
  `{\n  // one-step config, as the operator writes it\n  "Version": "alpha0",\n  "AuthKey": "${key}",\n  "ServerURL": "${LOGIN_SERVER}",\n  "Hostname": "${hostname}",\n  "AcceptDNS": false,\n}\n`;

/**
 * The StatefulSet reconcileSTS makes from deploy/manifests/proxy.yaml: `app` label selector, the
 * generic env (TS_KUBE_SECRET=$(POD_NAME), one-step config dir), the per-replica config Secret
 * `<name>-0` at /etc/tsconfig/<name>-0, and the kind's target env. Only `image:` swapped.
 */
function operatorStatefulSet(namespace: string, name: string, target: Record<string, string>): k8s.V1StatefulSet {
  const sts = k8s.loadYaml<k8s.V1StatefulSet>(fs.readFileSync(path.join(UPSTREAM, 'deploy', 'manifests', 'proxy.yaml'), 'utf8'));
  sts.metadata = { name, namespace };
  sts.spec!.serviceName = name;
  sts.spec!.selector = { matchLabels: { app: name } };
  const tpl = sts.spec!.template;
  tpl.metadata = { ...tpl.metadata, labels: { app: name } };
  const pod = tpl.spec!;
  const ts = pod.containers.find((c) => c.name === 'tailscale')!;
  ts.env!.push(
    { name: 'TS_KUBE_SECRET', value: '$(POD_NAME)' },
    { name: 'TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT', value: 'false' },
    { name: 'TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR', value: '/etc/tsconfig/$(POD_NAME)' },
    { name: 'TS_DEBUG_ACME_FORCE_RENEWAL', value: 'true' },
    ...Object.entries(target).map(([n, value]) => ({ name: n, value })),
  );
  pod.volumes = [{ name: 'tailscaledconfig-0', secret: { secretName: `${name}-0` } }];
  ts.volumeMounts = [{ name: 'tailscaledconfig-0', readOnly: true, mountPath: `/etc/tsconfig/${name}-0` }];
  onImage(pod, 'tailscale', { TS_EXTRA_ARGS: '' });
  const init = pod.initContainers!.find((c) => c.name === 'sysctler')!;
  const host = webContainer('sysctler');
  Object.assign(init, { image: host.image, imagePullPolicy: 'Never', volumeMounts: host.volumeMounts });
  return sts;
}

async function operatorNamespace(cluster: Cluster, namespace: string) {
  await api(cluster.core.createNamespace({ body: { metadata: { name: namespace } } }));
  const o = operatorObjects(namespace);
  await api(cluster.core.createNamespacedServiceAccount({ namespace, body: o.sa }));
  await api(cluster.rbac.createNamespacedRole({ namespace, body: o.role }));
  await api(cluster.rbac.createNamespacedRoleBinding({ namespace, body: o.binding }));
}

export function describeOperator(get: Ctx): void {
  describe('the operator`s proxy pods on the real cluster', () => {
    it('egress StatefulSet (TS_TAILNET_TARGET_IP, one-step config Secret volume): a cluster Pod reaches the tailnet target; a Secret update is reloaded after the kubelet`s swap', async () => {
      const { lab, cluster } = get();
      await ensurePodImages(cluster);
      const namespace = `cb-op-${process.pid}`;
      await operatorNamespace(cluster, namespace);

      const peer = await lab.startPeer('optarget', { hostname: 'op-target', kernel: true });
      await lab.startWebServer(peer.node, 'op-target', 8080);
      const targetIP = await peer.ip4();
      const key = await lab.createKey();
      const name = 'ts-egress';
      await api(cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name: `${name}-0` }, stringData: { 'cap-100.hujson': hujson(key, 'op-egress') } } }));

      const sts = operatorStatefulSet(namespace, name, { TS_TAILNET_TARGET_IP: targetIP });
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: sts }));
      const p = await waitPodRunning(cluster, namespace, `${name}-0`, 90_000);
      const state = await waitFor('device info in <sts>-0', async () => {
        const s = await cluster.core.readNamespacedSecret({ name: `${name}-0`, namespace });
        return s.data?.device_ips ? s : undefined;
      }, 60_000, 500);
      expect(Object.keys(state.data!)).toEqual(expect.arrayContaining(['cap-100.hujson', '_machinekey', 'device_id', 'device_fqdn']));

      await api(cluster.core.createNamespacedPod({ namespace, body: webPod('client') }));
      await waitPodRunning(cluster, namespace, 'client', 60_000);
      const got = await waitFor('client → egress proxy → tailnet target', async () => {
        const r = await cluster.kubectl('exec', '-n', namespace, 'client', '--', 'curl', '-sS', '--max-time', '4', `http://${p.status!.podIP}:8080/egress`);
        return r.code === 0 && r.stdout.includes('hello from op-target') ? r.stdout : undefined;
      }, 40_000, 1000);
      expect(got).toContain('path=/egress');

      // One-step reload: a new hostname through the API; the kubelet swaps ..data in the volume.
      await cluster.core.patchNamespacedSecret({ name: `${name}-0`, namespace, body: { stringData: { 'cap-100.hujson': hujson(key, 'op-egress2') } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
      await waitFor('headscale sees the reloaded hostname', async () => (await lab.headscale.nodes()).some((n) => n.name === 'op-egress2'), 60_000, 1000);
      const logs = await podLogs(cluster, namespace, `${name}-0`, 'tailscale');
      expect(logs).toMatch(/config was reloaded/);
      expect(logs).not.toContain(key);
      await cluster.apps.deleteNamespacedStatefulSet({ name, namespace });
      await cluster.core.deleteNamespacedPod({ name: 'client', namespace });
    }, 300_000);

    it('egress StatefulSet (TS_TAILNET_TARGET_FQDN): a cluster Pod reaches the MagicDNS-named tailnet peer, which sees the proxy`s tailnet IP', async () => {
      const { lab, cluster } = get();
      await ensurePodImages(cluster);
      const namespace = `cb-opf-${process.pid}`;
      await operatorNamespace(cluster, namespace);
      const peer = await lab.startPeer('opftarget', { hostname: 'op-fqdn-target', kernel: true });
      await lab.startWebServer(peer.node, 'op-fqdn-target', 8080);
      const key = await lab.createKey();
      const name = 'ts-egress-fqdn';
      await api(cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name: `${name}-0` }, stringData: { 'cap-106.hujson': hujson(key, 'op-egress-fqdn') } } }));
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: operatorStatefulSet(namespace, name, { TS_TAILNET_TARGET_FQDN: 'op-fqdn-target.lab.test' }) }));
      const p = await waitPodRunning(cluster, namespace, `${name}-0`, 90_000);
      const state = await waitFor('device info in <sts>-0', async () => {
        const s = await cluster.core.readNamespacedSecret({ name: `${name}-0`, namespace });
        return s.data?.device_ips ? s : undefined;
      }, 60_000, 500);
      const proxyIP = (JSON.parse(Buffer.from(state.data!.device_ips!, 'base64').toString()) as string[]).find((a) => !a.includes(':'))!;
      await api(cluster.core.createNamespacedPod({ namespace, body: webPod('client') }));
      await waitPodRunning(cluster, namespace, 'client', 60_000);
      const got = await waitFor('client → egress proxy → op-fqdn-target', async () => {
        const r = await cluster.kubectl('exec', '-n', namespace, 'client', '--', 'curl', '-sS', '--max-time', '4', `http://${p.status!.podIP}:8080/fqdn`);
        return r.code === 0 && r.stdout.includes('hello from op-fqdn-target') ? r.stdout : undefined;
      }, 40_000, 1000);
      expect(got).toContain(`client=${proxyIP}`); // containerboot's SNAT to its own tailnet address
      expect(await podLogs(cluster, namespace, `${name}-0`, 'tailscale')).not.toContain(key);
      await peer.stop();
      await cluster.apps.deleteNamespacedStatefulSet({ name, namespace });
      await cluster.core.deleteNamespacedPod({ name: 'client', namespace });
    }, 240_000);

    it('ingress StatefulSet (TS_DEST_IP to a backend Pod, one-step config Secret volume): a tailnet peer reaches the backend through the proxy', async () => {
      const { lab, cluster } = get();
      await ensurePodImages(cluster);
      const namespace = `cb-opi-${process.pid}`;
      await operatorNamespace(cluster, namespace);
      await api(cluster.core.createNamespacedPod({ namespace, body: webPod('backend') }));
      const b = await waitPodRunning(cluster, namespace, 'backend', 60_000);
      const key = await lab.createKey();
      const name = 'ts-ingress';
      await api(cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name: `${name}-0` }, stringData: { 'cap-106.hujson': hujson(key, 'op-ingress') } } }));
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: operatorStatefulSet(namespace, name, { TS_DEST_IP: b.status!.podIP! }) }));
      await waitPodRunning(cluster, namespace, `${name}-0`, 90_000);
      const state = await waitFor('device info in <sts>-0', async () => {
        const s = await cluster.core.readNamespacedSecret({ name: `${name}-0`, namespace });
        return s.data?.device_ips ? s : undefined;
      }, 60_000, 500);
      const ips = JSON.parse(Buffer.from(state.data!.device_ips!, 'base64').toString()) as string[];
      const peer = await lab.startPeer('opipeer', { hostname: 'op-ingress-peer', kernel: true });
      await peer.waitForPeer('op-ingress', 30_000);
      const r = await waitFor('peer → ingress proxy → backend Pod', async () => {
        const x = await lab.curl(peer.node, `http://${ips.find((a) => !a.includes(':'))}:8080/ingress`, 4);
        return x.status === 200 ? x : undefined;
      }, 40_000, 500);
      expect(r.body).toContain('hello from backend');
      const logs = await podLogs(cluster, namespace, `${name}-0`, 'tailscale');
      expect(logs).toContain('Startup complete, waiting for shutdown signal');
      expect(logs).not.toContain(key);
      await peer.stop();
      await cluster.apps.deleteNamespacedStatefulSet({ name, namespace });
      await cluster.core.deleteNamespacedPod({ name: 'backend', namespace });
    }, 240_000);
  });
}
