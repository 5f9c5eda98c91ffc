// An egress ProxyGroup (2 replicas) as the operator builds it (cmd/k8s-operator/proxygroup_specs.go
// and proxygroup.go of tailscale.com@v1.102.3, read for facts): the deploy/manifests/proxy.yaml
// skeleton with serviceAccountName and Role/RoleBinding named after the ProxyGroup (get/patch/update
// on `<pg>-<i>-config` and `<pg>-<i>`), every replica's config Secret `<pg>-<i>-config`
// (`cap-106.hujson`) mounted at /etc/tsconfig/<pg>-<i>, the ConfigMap `<pg>-egress-config`
// (`egress-services`, `hep-pings`) mounted at /etc/proxies, the egress env and the preStop HTTP hook
// on :9002. There is no operator and no kube-proxy here: the test writes what the operator writes and
// a client Pod talks to the replicas' Pod IPs directly. Only `image:` is swapped.
import * as k8s from '@kubernetes/client-node';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { LOGIN_SERVER, waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, ensurePodImages, followLogs, onImage, waitPodRunning, webContainer, webPod } from '../lab/cluster-pods.js';
import { UPSTREAM } from './tenant.js';

type Ctx = () => { lab: Lab; cluster: Cluster; dir: string };

const PG = 'egress-pg';
const REPLICAS = 2;

/** The operator's per-replica tailscaled config (pgTailscaledConfig), JSON as it marshals it. */
const pgConfig = (key: string, i: number) =>
  JSON.stringify({ Version: 'alpha0', AcceptDNS: false, AcceptRoutes: false, Locked: false, Hostname: `${PG}-${i}`, AuthKey: key, ServerURL: LOGIN_SERVER });

function pgStatefulSet(namespace: string): k8s.V1StatefulSet {
  const sts = k8s.loadYaml<k8s.V1StatefulSet>(fs.readFileSync(path.join(UPSTREAM, 'deploy', 'manifests', 'proxy.yaml'), 'utf8'));
  const labels = { 'tailscale.com/managed': 'true', 'tailscale.com/parent-resource-type': 'proxygroup', 'tailscale.com/parent-resource': PG };
  sts.metadata = { name: PG, namespace, labels };
  sts.spec!.replicas = REPLICAS;
  sts.spec!.selector = { matchLabels: labels };
  const tpl = sts.spec!.template;
  tpl.metadata = { name: PG, namespace, labels, deletionGracePeriodSeconds: 360 };
  const pod = tpl.spec!;
  pod.serviceAccountName = PG;
  pod.volumes = [
    ...Array.from({ length: REPLICAS }, (_, i) => ({ name: `tailscaledconfig-${i}`, secret: { secretName: `${PG}-${i}-config` } })),
    { name: `${PG}-egress-config`, configMap: { name: `${PG}-egress-config` } },
  ];
  const ts = pod.containers.find((c) => c.name === 'tailscale')!;
  ts.volumeMounts = [
    ...Array.from({ length: REPLICAS }, (_, i) => ({ name: `tailscaledconfig-${i}`, readOnly: true, mountPath: `/etc/tsconfig/${PG}-${i}` })),
    { name: `${PG}-egress-config`, mountPath: '/etc/proxies', readOnly: true },
  ];
  ts.env!.push(
    { name: 'POD_IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
    { name: 'TS_KUBE_SECRET', value: '$(POD_NAME)' },
    { name: 'TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT', value: 'false' },
    { name: 'TS_STATE', value: 'kube:$(POD_NAME)' },
    { name: 'TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR', value: '/etc/tsconfig/$(POD_NAME)' },
    { name: 'TS_DEBUG_ACME_FORCE_RENEWAL', value: 'true' },
    { name: 'TS_EGRESS_SERVICES_CONFIG_PATH', value: '/etc/proxies/egress-services' },
    { name: 'TS_EGRESS_PROXIES_CONFIG_PATH', value: '/etc/proxies' },
    { name: 'TS_INTERNAL_APP', value: 'k8s-operator-proxygroup-egress' },
    { name: 'TS_ENABLE_HEALTH_CHECK', value: 'true' },
  );
  ts.lifecycle = { preStop: { httpGet: { path: '/internal-egress-services-preshutdown', port: 9002 } } };
  // One-step mode: no login server or extra args in the environment (the config file's ServerURL decides).
  onImage(pod, 'tailscale', { TS_EXTRA_ARGS: '' });
  const init = pod.initContainers!.find((c) => c.name === 'sysctler')!;
  const host = webContainer('sysctler');
  Object.assign(init, { image: host.image, imagePullPolicy: 'Never', volumeMounts: host.volumeMounts });
  return sts;
}

async function createRBAC(c: Cluster, namespace: string) {
  await api(c.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: PG } } }));
  const names = Array.from({ length: REPLICAS }, (_, i) => [`${PG}-${i}-config`, `${PG}-${i}`]).flat();
  await api(c.rbac.createNamespacedRole({ namespace, body: { metadata: { name: PG }, rules: [
    { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch', 'update'], resourceNames: names },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'get'] },
  ] } }));
  await api(c.rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: PG },
    subjects: [{ kind: 'ServiceAccount', name: PG, namespace }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: PG } } }));
}

type EgressConfig = Record<string, { tailnetTarget: { ip?: string; fqdn?: string }; ports: { protocol: string; matchPort: number; targetPort: number }[]; healthCheckEndpoint?: string }>;

async function setEgressConfig(c: Cluster, namespace: string, cfg: EgressConfig, create = false) {
  const body: k8s.V1ConfigMap = { metadata: { name: `${PG}-egress-config` }, data: { 'egress-services': JSON.stringify(cfg), 'hep-pings': String(REPLICAS * 3) } };
  if (create) await api(c.core.createNamespacedConfigMap({ namespace, body }));
  else await api(c.core.replaceNamespacedConfigMap({ name: `${PG}-egress-config`, namespace, body }));
}

async function egressStatus(c: Cluster, namespace: string, i: number): Promise<{ podIPv4?: string; services?: Record<string, { ports: unknown[]; tailnetTargetIPs: string[] | null }> } | undefined> {
  const s = await c.core.readNamespacedSecret({ name: `${PG}-${i}`, namespace }).catch(() => undefined);
  const v = s?.data?.['egress-services'];
  return v ? JSON.parse(Buffer.from(v, 'base64').toString('utf8')) : undefined;
}

export function describeProxyGroup(get: Ctx): void {
  describe('an egress ProxyGroup on the real cluster', () => {
    it('2 replicas: both serve the ConfigMap`s services; a ConfigMap edit changes the kernel rules and the status in both Secrets; deleting a replica runs the preStop drain', async () => {
      const { lab, cluster } = get();
      await ensurePodImages(cluster);
      const namespace = `cb-pg-${process.pid}`;
      await api(cluster.core.createNamespace({ body: { metadata: { name: namespace } } }));
      await createRBAC(cluster, namespace);
      const peer = await lab.startPeer('pgtarget', { hostname: 'pg-target', kernel: true });
      await lab.startWebServer(peer.node, 'pg-target', 8080);
      const targetIP = await peer.ip4();
      const key = await lab.createKey({ reusable: true });
      for (let i = 0; i < REPLICAS; i++) {
        const labels = (type: string) => ({ 'tailscale.com/managed': 'true', 'tailscale.com/parent-resource-type': 'proxygroup', 'tailscale.com/parent-resource': PG, 'tailscale.com/secret-type': type });
        await api(cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name: `${PG}-${i}-config`, labels: labels('config') }, stringData: { 'cap-106.hujson': pgConfig(key, i) } } }));
        // pgStateSecrets: the operator creates the (empty) state Secrets; the Role has no create.
        await api(cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name: `${PG}-${i}`, labels: labels('state') } } }));
      }
      await setEgressConfig(cluster, namespace, { web: { tailnetTarget: { fqdn: 'pg-target.lab.test' }, ports: [{ protocol: 'tcp', matchPort: 9080, targetPort: 8080 }] } }, true);
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: pgStatefulSet(namespace) }));
      await api(cluster.core.createNamespacedPod({ namespace, body: webPod('client') }));
      await waitPodRunning(cluster, namespace, 'client', 60_000);
      const pods: k8s.V1Pod[] = [];
      for (let i = 0; i < REPLICAS; i++) pods.push(await waitPodRunning(cluster, namespace, `${PG}-${i}`, 120_000));
      const ips = pods.map((p) => p.status!.podIP!);

      const curl = (ip: string, port: number) => cluster.kubectl('exec', '-n', namespace, 'client', '--', 'curl', '-sS', '--max-time', '3', `http://${ip}:${port}/pg`);
      const reaches = (ip: string, port: number) => waitFor(`client → ${ip}:${port} → pg-target`, async () => {
        const r = await curl(ip, port);
        return r.code === 0 && r.stdout.includes('hello from pg-target') ? r.stdout : undefined;
      }, 60_000, 1000);
      for (const ip of ips) expect(await reaches(ip, 9080)).toContain('path=/pg');
      for (let i = 0; i < REPLICAS; i++) {
        const st = await waitFor(`egress status in ${PG}-${i}`, async () => (await egressStatus(cluster, namespace, i))?.services?.web ? egressStatus(cluster, namespace, i) : undefined, 30_000, 500);
        expect(st!.podIPv4).toBe(ips[i]);
        const state = await cluster.core.readNamespacedSecret({ name: `${PG}-${i}`, namespace });
        const dec = (k: string) => Buffer.from(state.data![k] ?? '', 'base64').toString();
        expect(dec('pod_uid')).toBe(pods[i]!.metadata!.uid); // the Secret existed at boot: the reset ran
        expect(dec('tailscale_capver')).toBe('142');
        expect(st!.services!.web!.tailnetTargetIPs).toEqual([targetIP, expect.stringMatching(/^fd7a:115c:a1e0::/)]); // every address of the FQDN target
      }

      // The operator rewrites the ConfigMap: web moves to an IP target on 9081. The kubelet swaps ..data.
      const t0 = Date.now();
      await setEgressConfig(cluster, namespace, { web2: { tailnetTarget: { ip: targetIP }, ports: [{ protocol: 'tcp', matchPort: 9081, targetPort: 8080 }], healthCheckEndpoint: '' } });
      for (let i = 0; i < REPLICAS; i++) {
        await waitFor(`${PG}-${i}: status lists web2 only`, async () => {
          const st = await egressStatus(cluster, namespace, i);
          return st?.services?.web2 && !st.services.web ? st : undefined;
        }, 60_000, 500);
        const rules = await cluster.kubectl('exec', '-n', namespace, `${PG}-${i}`, '-c', 'tailscale', '--', 'iptables-save', '-t', 'nat');
        expect(rules.stdout).toMatch(/--dport 9081 .*DNAT --to-destination 100\./);
        expect(rules.stdout).not.toMatch(/--dport 9080 /);
      }
      const swapMs = Date.now() - t0;
      for (const ip of ips) await reaches(ip, 9081);
      expect((await curl(ips[0]!, 9080)).code).not.toBe(0);

      // preStop: the hook pings the health endpoint (here replica 0's /healthz: the stand-in for a
      // Service whose endpoints no longer include replica 1), sees another Pod's identity, then
      // sleeps before answering; only then does the kubelet send SIGTERM.
      await setEgressConfig(cluster, namespace, { web2: { tailnetTarget: { ip: targetIP }, ports: [{ protocol: 'tcp', matchPort: 9081, targetPort: 8080 }], healthCheckEndpoint: `http://${ips[0]}:9002/healthz` } });
      await waitFor('the health endpoint in replica 1`s mounted config', async () => {
        const r = await cluster.kubectl('exec', '-n', namespace, `${PG}-1`, '-c', 'tailscale', '--', 'cat', '/etc/proxies/egress-services');
        return r.stdout.includes('/healthz') ? true : undefined;
      }, 60_000, 1000);
      const logs = followLogs(cluster, namespace, `${PG}-1`, 'tailscale');
      const d0 = Date.now();
      await cluster.core.deleteNamespacedPod({ name: `${PG}-1`, namespace });
      const out = await logs.done(90_000);
      const deleteMs = Date.now() - d0;
      expect(out).toContain('service "web2" is no longer routed through this Pod');
      expect(out).toMatch(/Sleeping for 10s before shutdown to ensure that kube proxies on all nodes have updated routing configuration/);
      expect(deleteMs).toBeGreaterThan(10_000);
      expect(out).not.toContain(key);
      // The StatefulSet brings replica 1 back as the same node (state Secret), serving the current config.
      const back = await waitPodRunning(cluster, namespace, `${PG}-1`, 120_000);
      await reaches(back.status!.podIP!, 9081);
      console.log(`proxygroup: ConfigMap edit → both replicas' status ${swapMs} ms; replica delete → logs ended ${deleteMs} ms`);
      await cluster.apps.deleteNamespacedStatefulSet({ name: PG, namespace });
      await peer.stop();
    }, 420_000);
  });
}
