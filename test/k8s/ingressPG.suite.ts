// An ingress ProxyGroup (2 replicas) as the operator builds it (test/k8s/pgSpec.ts): every replica's
// config Secret advertises the Tailscale Service `svc:web` (AdvertiseServices, as the operator's
// HA Ingress reconciler writes it), the shared serve config is `serve-config.json` in the ConfigMap
// `<pg>-ingress-config` at /etc/proxies, cert share is on. Headscale issues no TLS certificates, so
// the node's cert domain is `no-https`, the case the operator reads from `https_endpoint`.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, followLogs, podLogs, waitPodRunning, webPod } from '../lab/cluster-pods.js';
import { createPGSecrets, pgConfig, pgStatefulSet, secretKey, setPGConfigMap, setUpPG } from './pgSpec.js';

type Ctx = () => { lab: Lab; cluster: Cluster; dir: string };

const PG = 'ingress-pg';
const REPLICAS = 2;
const SVC = 'svc:web';

/** The serve config the operator's HA Ingress reconciler writes for one Service (HTTPS on 443, optionally HTTP on 80). */
function serveConfig(backend: string, opts: { https: boolean; http: boolean }): Record<string, unknown> {
  const tcp: Record<string, unknown> = {};
  const web: Record<string, unknown> = {};
  const handlers = { '/': { Proxy: `http://${backend}:8080/` } };
  if (opts.https) { tcp['443'] = { HTTPS: true }; web['web.lab.test:443'] = { Handlers: handlers }; }
  if (opts.http) { tcp['80'] = { HTTP: true }; web['web.lab.test:80'] = { Handlers: handlers }; }
  return { Services: { [SVC]: { TCP: tcp, Web: web } } };
}

/** tailscaled's current prefs as its kubestore persisted them in the replica's state Secret. */
async function persistedPrefs(c: Cluster, namespace: string, i: number): Promise<{ AdvertiseServices?: string[] | null } | undefined> {
  const profile = await secretKey(c, namespace, `${PG}-${i}`, '_current-profile');
  if (!profile) return undefined;
  const prefs = await secretKey(c, namespace, `${PG}-${i}`, profile);
  return prefs ? JSON.parse(prefs) : undefined;
}

export function describeIngressProxyGroup(get: Ctx): void {
  describe('an ingress ProxyGroup on the real cluster', () => {
    it('2 replicas: https_endpoint no-https (S14); the serve config applied from the ConfigMap, an equivalent rewrite not re-applied (S16), a broken one kept out (S13); scaling down unadvertises the Service (S12)', async () => {
      const { lab, cluster } = get();
      const namespace = `cb-ipg-${process.pid}`;
      const o = await setUpPG(cluster, { name: PG, namespace, kind: 'ingress' as const, replicas: REPLICAS });
      await api(cluster.core.createNamespacedPod({ namespace, body: webPod('ingress-backend') }));
      const backend = (await waitPodRunning(cluster, namespace, 'ingress-backend', 60_000)).status!.podIP!;
      const key = await lab.createKey({ reusable: true });
      await createPGSecrets(cluster, o, (i) => pgConfig(o, key, i, { AdvertiseServices: [SVC] }));
      // What the operator writes first: HTTPS only.
      await setPGConfigMap(cluster, o, { 'serve-config.json': JSON.stringify(serveConfig(backend, { https: true, http: false })) }, true);
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: pgStatefulSet(o) }));
      for (let i = 0; i < REPLICAS; i++) await waitPodRunning(cluster, namespace, `${PG}-${i}`, 120_000);
      const logs = (i: number) => podLogs(cluster, namespace, `${PG}-${i}`, 'tailscale');
      const serveStatus = async (i: number) => (await cluster.kubectl('exec', '-n', namespace, `${PG}-${i}`, '-c', 'tailscale', '--', 'tailscale', 'serve', 'status', '--json')).stdout;

      // S14: no cert domain on this tailnet: https_endpoint says so in both replicas' state Secrets.
      // The Service's HTTPS config is applied all the same: as upstream, only the node's own TCP
      // handlers are checked against `no-https`, not a Service's.
      for (let i = 0; i < REPLICAS; i++) {
        expect(await waitFor(`${PG}-${i}: https_endpoint`, () => secretKey(cluster, namespace, `${PG}-${i}`, 'https_endpoint'), 60_000, 500)).toBe('no-https');
        await waitFor(`${PG}-${i}: the Service's HTTPS serve config`, async () => ((await serveStatus(i)).includes('web.lab.test:443') ? true : undefined), 30_000, 1000);
        expect(await logs(i)).not.toContain('it is not able to issue TLS certs');
        expect((await persistedPrefs(cluster, namespace, i))?.AdvertiseServices).toEqual([SVC]); // from the config Secret
      }

      // The HTTP endpoint added (the operator's HTTP variant): applied by both replicas after the kubelet's swap.
      const httpCfg = serveConfig(backend, { https: true, http: true });
      await setPGConfigMap(cluster, o, { 'serve-config.json': JSON.stringify(httpCfg) });
      for (let i = 0; i < REPLICAS; i++) {
        await waitFor(`${PG}-${i}: the HTTP serve config applied`, async () => ((await serveStatus(i)).includes('web.lab.test:80') ? true : undefined), 60_000, 1000);
      }
      const applies = async (i: number) => (await logs(i)).split('\n').filter((l) => l.includes('serve proxy: applying serve config')).length;
      const applied = await Promise.all([0, 1].map(applies));

      // S16: the same config written differently (indented) is swapped in by the kubelet but not re-POSTed.
      await setPGConfigMap(cluster, o, { 'serve-config.json': JSON.stringify(httpCfg, null, 2) });
      const catCfg = async (i: number) => (await cluster.kubectl('exec', '-n', namespace, `${PG}-${i}`, '-c', 'tailscale', '--', 'cat', '/etc/proxies/serve-config.json')).stdout;
      for (let i = 0; i < REPLICAS; i++) await waitFor(`${PG}-${i}: the indented file mounted`, async () => ((await catCfg(i)).includes('\n  ') ? true : undefined), 60_000, 1000);

      // S13: a broken file is reported with its name; the applied config stays, the replicas keep running.
      await setPGConfigMap(cluster, o, { 'serve-config.json': '{"Services": {' });
      for (let i = 0; i < REPLICAS; i++) {
        const line = await waitFor(`${PG}-${i} logs the broken serve config`, async () =>
          (await logs(i)).split('\n').find((l) => l.includes('serve proxy: failed to read serve config')), 60_000, 1000);
        expect(line).toContain('/etc/proxies/serve-config.json');
        expect(line).toContain('keeping the current serve config');
        expect(await serveStatus(i)).toContain('web.lab.test:80');
        expect(await applies(i)).toBe(applied[i]); // neither the indented rewrite nor the broken file was applied
      }

      // S12: the operator scales the ProxyGroup down; the removed replica stops advertising the
      // Service before tailscaled stops, which its kubestore persists in the state Secret.
      const down = followLogs(cluster, namespace, `${PG}-1`, 'tailscale');
      await api(cluster.apps.patchNamespacedStatefulSetScale({ name: PG, namespace, body: [{ op: 'replace', path: '/spec/replicas', value: 1 }] }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch)));
      const out = await down.done(90_000);
      expect(out).toContain(`unadvertising services: [${SVC}]`);
      expect(out).not.toContain('Error ensuring services are not advertised');
      expect(out).not.toContain(key);
      const after = await persistedPrefs(cluster, namespace, 1);
      expect(after?.AdvertiseServices ?? []).toEqual([]);
      expect((await persistedPrefs(cluster, namespace, 0))?.AdvertiseServices).toEqual([SVC]); // the remaining replica still advertises
      await cluster.apps.deleteNamespacedStatefulSet({ name: PG, namespace });
    }, 420_000);
  });
}
