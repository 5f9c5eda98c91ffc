// ProxyGroups as the operator builds them (cmd/k8s-operator/proxygroup_specs.go and proxygroup.go of
// tailscale.com@v1.102.3, read for facts): the deploy/manifests/proxy.yaml skeleton with
// serviceAccountName and Role/RoleBinding named after the ProxyGroup (get/patch/update on
// `<pg>-<i>-config` and `<pg>-<i>`), every replica's config Secret `<pg>-<i>-config`
// (`cap-106.hujson`) mounted at /etc/tsconfig/<pg>-<i>, the kind's ConfigMap mounted at
// /etc/proxies and the kind's env: egress (egress-services, preStop HTTP hook on :9002, grace 360 s)
// or ingress (serve-config.json, ingress-config.json, cert share, no hook, grace 10 s). There is no
// operator and no kube-proxy here: the tests write what the operator writes. Only `image:` is swapped.
import * as k8s from '@kubernetes/client-node';
import fs from 'node:fs';
import path from 'node:path';
import { LOGIN_SERVER } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, ensurePodImages, onImage, webContainer } from '../lab/cluster-pods.js';
import { UPSTREAM } from './tenant.js';

export type PGKind = 'egress' | 'ingress';

export interface PGOptions {
  name: string;
  namespace: string;
  kind: PGKind;
  replicas: number;
  /** Env names to leave out of the operator's list (a test of what happens without them). */
  withoutEnv?: string[];
}

export const configMapName = (o: Pick<PGOptions, 'name' | 'kind'>) => `${o.name}-${o.kind}-config`;

/** The operator's per-replica tailscaled config (pgTailscaledConfig), JSON as it marshals it. */
export function pgConfig(o: Pick<PGOptions, 'name'>, key: string, i: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ Version: 'alpha0', AcceptDNS: false, AcceptRoutes: false, Locked: false, Hostname: `${o.name}-${i}`, AuthKey: key, ServerURL: LOGIN_SERVER, ...extra });
}

export function pgStatefulSet(o: PGOptions): k8s.V1StatefulSet {
  const { name, namespace, kind, replicas } = o;
  const sts = k8s.loadYaml<k8s.V1StatefulSet>(fs.readFileSync(path.join(UPSTREAM, 'deploy', 'manifests', 'proxy.yaml'), 'utf8'));
  const labels = { 'tailscale.com/managed': 'true', 'tailscale.com/parent-resource-type': 'proxygroup', 'tailscale.com/parent-resource': name };
  sts.metadata = { name, namespace, labels };
  sts.spec!.replicas = replicas;
  sts.spec!.selector = { matchLabels: labels };
  const tpl = sts.spec!.template;
  tpl.metadata = { name, namespace, labels, deletionGracePeriodSeconds: kind === 'egress' ? 360 : 10 };
  const pod = tpl.spec!;
  pod.serviceAccountName = name;
  pod.volumes = [
    ...Array.from({ length: replicas }, (_, i) => ({ name: `tailscaledconfig-${i}`, secret: { secretName: `${name}-${i}-config` } })),
    { name: configMapName(o), configMap: { name: configMapName(o) } },
  ];
  const ts = pod.containers.find((c) => c.name === 'tailscale')!;
  ts.volumeMounts = [
    ...Array.from({ length: replicas }, (_, i) => ({ name: `tailscaledconfig-${i}`, readOnly: true, mountPath: `/etc/tsconfig/${name}-${i}` })),
    { name: configMapName(o), mountPath: '/etc/proxies', readOnly: true },
  ];
  const env: k8s.V1EnvVar[] = [
    { name: 'POD_IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
    { name: 'TS_KUBE_SECRET', value: '$(POD_NAME)' },
    { name: 'TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT', value: 'false' },
    { name: 'TS_STATE', value: 'kube:$(POD_NAME)' },
    { name: 'TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR', value: '/etc/tsconfig/$(POD_NAME)' },
    { name: 'TS_DEBUG_ACME_FORCE_RENEWAL', value: 'true' },
  ];
  if (kind === 'egress') {
    env.push(
      { name: 'TS_EGRESS_SERVICES_CONFIG_PATH', value: '/etc/proxies/egress-services' },
      { name: 'TS_EGRESS_PROXIES_CONFIG_PATH', value: '/etc/proxies' },
      { name: 'TS_INTERNAL_APP', value: 'k8s-operator-proxygroup-egress' },
      { name: 'TS_ENABLE_HEALTH_CHECK', value: 'true' },
    );
    ts.lifecycle = { preStop: { httpGet: { path: '/internal-egress-services-preshutdown', port: 9002 } } };
  } else {
    env.push(
      { name: 'TS_INTERNAL_APP', value: 'k8s-operator-proxygroup-ingress' },
      { name: 'TS_INGRESS_PROXIES_CONFIG_PATH', value: '/etc/proxies/ingress-config.json' },
      { name: 'TS_SERVE_CONFIG', value: '/etc/proxies/serve-config.json' },
      { name: 'TS_EXPERIMENTAL_CERT_SHARE', value: 'true' },
    );
  }
  const skip = new Set(o.withoutEnv ?? []);
  ts.env!.push(...env.filter((e) => !skip.has(e.name)));
  // One-step mode: no login server or extra args in the environment (the config file's ServerURL decides).
  onImage(pod, 'tailscale', { TS_EXTRA_ARGS: '' });
  const init = pod.initContainers!.find((c) => c.name === 'sysctler')!;
  const host = webContainer('sysctler');
  Object.assign(init, { image: host.image, imagePullPolicy: 'Never', volumeMounts: host.volumeMounts });
  return sts;
}

/** The pod images, the ProxyGroup's namespace and its RBAC: what every ProxyGroup test starts with. */
export async function setUpPG<T extends PGOptions>(c: Cluster, o: T): Promise<T> {
  await ensurePodImages(c);
  await api(c.core.createNamespace({ body: { metadata: { name: o.namespace } } }));
  await createPGRBAC(c, o);
  return o;
}

/** The ProxyGroup's ServiceAccount, Role (pgRole) and RoleBinding. */
export async function createPGRBAC(c: Cluster, o: Pick<PGOptions, 'name' | 'namespace' | 'replicas'>): Promise<void> {
  const { name, namespace } = o;
  await api(c.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }));
  const names = Array.from({ length: o.replicas }, (_, i) => [`${name}-${i}-config`, `${name}-${i}`]).flat();
  await api(c.rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: [
    { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch', 'update'], resourceNames: names },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'get'] },
  ] } }));
  await api(c.rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name } } }));
}

/** Per replica: the config Secret and the (empty) state Secret the operator creates (pgStateSecrets; the Role has no create). */
export async function createPGSecrets(c: Cluster, o: Pick<PGOptions, 'name' | 'namespace' | 'replicas'>, config: (i: number) => string): Promise<void> {
  const labels = (type: string) => ({ 'tailscale.com/managed': 'true', 'tailscale.com/parent-resource-type': 'proxygroup', 'tailscale.com/parent-resource': o.name, 'tailscale.com/secret-type': type });
  for (let i = 0; i < o.replicas; i++) {
    await api(c.core.createNamespacedSecret({ namespace: o.namespace, body: { metadata: { name: `${o.name}-${i}-config`, labels: labels('config') }, stringData: { 'cap-106.hujson': config(i) } } }));
    await api(c.core.createNamespacedSecret({ namespace: o.namespace, body: { metadata: { name: `${o.name}-${i}`, labels: labels('state') } } }));
  }
}

/** Creates or replaces the kind's ConfigMap with `data`. */
export async function setPGConfigMap(c: Cluster, o: Pick<PGOptions, 'name' | 'namespace' | 'kind'>, data: Record<string, string>, create = false): Promise<void> {
  const body: k8s.V1ConfigMap = { metadata: { name: configMapName(o) }, data };
  if (create) await api(c.core.createNamespacedConfigMap({ namespace: o.namespace, body }));
  else await api(c.core.replaceNamespacedConfigMap({ name: configMapName(o), namespace: o.namespace, body }));
}

/** One key of a Secret, decoded; undefined when the Secret or key is absent. */
export async function secretKey(c: Cluster, namespace: string, name: string, key: string): Promise<string | undefined> {
  const s = await c.core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
  const v = s?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}
