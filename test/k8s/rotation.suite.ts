// Projected-token rotation by the real kubelet. upstream's userspace-sidecar.yaml with the
// automounted token swapped for the same projected volume at a 600 s lifetime (the API's minimum),
// so the kubelet rewrites the token at 80 % of it (~480 s). The Pod is started as soon as the
// cluster is up (startRotationPod, from beforeAll) and checked last, so the wait overlaps the other
// tests. On the way the ServiceAccount is deleted and recreated: that revokes the Pod's bound token
// at once (401), and the token the kubelet projects next is the new ServiceAccount's.
import crypto from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, ensurePodImages, onImage, podLogs, waitPodRunning, webContainer } from '../lab/cluster-pods.js';
import { type Tenant, tenant, upstreamManifest } from './tenant.js';

type Ctx = () => { lab: Lab; cluster: Cluster; dir: string };
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const LIFETIME_S = 600;

interface Started { t: Tenant; startedAt: number; firstToken: string; fqdn: string }
let started: Promise<Started> | undefined;

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number; exp: number; sub: string };
const digest = (s: string) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 12);

async function podToken(c: Cluster, namespace: string): Promise<string> {
  const r = await c.kubectl('exec', '-n', namespace, 'nginx', '-c', 'ts-sidecar', '--', 'cat', `${SA_DIR}/token`);
  if (r.code !== 0) throw new Error(`reading the Pod's token failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function apiCode(t: Tenant, token: string): Promise<number> {
  try {
    await t.client(token).readNamespacedSecret({ name: t.secret, namespace: t.namespace });
    return 200;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

/** Starts the sidecar Pod with a 600 s projected token; call once the cluster and lab are up. */
export function startRotationPod(get: Ctx): void {
  started = (async () => {
    const { lab, cluster, dir } = get();
    await ensurePodImages(cluster);
    const t = await tenant(cluster, dir);
    await api(cluster.core.createNamespacedSecret({ namespace: t.namespace, body: { metadata: { name: 'tailscale-auth' }, stringData: { TS_AUTHKEY: await lab.createKey() } } }));
    const pod = upstreamManifest<k8s.V1Pod>('docs/k8s/userspace-sidecar.yaml', { SA_NAME: 'tailscale', TS_KUBE_SECRET: t.secret });
    pod.spec!.containers = pod.spec!.containers.map((c) => (c.name === 'nginx' ? webContainer('nginx') : c));
    onImage(pod.spec!, 'ts-sidecar');
    // The automounted kube-api-access volume, spelled out with a shorter token lifetime.
    pod.spec!.automountServiceAccountToken = false;
    pod.spec!.volumes!.push({ name: 'sa-token', projected: { sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: LIFETIME_S } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
    ] } });
    (pod.spec!.containers.find((c) => c.name === 'ts-sidecar')!.volumeMounts ??= []).push({ name: 'sa-token', mountPath: SA_DIR, readOnly: true });
    await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: pod }));
    await waitPodRunning(cluster, t.namespace, 'nginx', 120_000);
    const s = await waitFor('device info', async () => (await t.read())?.device_fqdn ? t.read() : undefined, 60_000, 500);
    const firstToken = await podToken(cluster, t.namespace);
    return { t, startedAt: Date.now(), firstToken, fqdn: s!.device_fqdn! };
  })();
  started.catch(() => {}); // reported by the test that awaits it
}

export function describeRotation(get: Ctx): void {
  describe('projected-token rotation by the kubelet', () => {
    it(`a ${LIFETIME_S} s token is rotated (~80 %); the ServiceAccount recreated meanwhile revokes the old one (401); containerboot picks up the new one on its next write (K5)`, async () => {
      const { lab, cluster } = get();
      if (!started) throw new Error('startRotationPod was not called');
      const { t, startedAt, firstToken, fqdn } = await started;
      const first = claims(firstToken);
      expect(first.exp - first.iat).toBe(LIFETIME_S);
      expect(first.sub).toBe(`system:serviceaccount:${t.namespace}:tailscale`);
      expect(await apiCode(t, firstToken)).toBe(200);

      await cluster.core.deleteNamespacedServiceAccount({ name: 'tailscale', namespace: t.namespace });
      await cluster.core.createNamespacedServiceAccount({ namespace: t.namespace, body: upstreamManifest<k8s.V1ServiceAccount>('docs/k8s/sa.yaml', { SA_NAME: 'tailscale' }) });
      expect(await waitFor('the old token revoked', async () => ((await apiCode(t, firstToken)) === 401 ? 401 : undefined), 20_000, 300)).toBe(401);

      const rotated = await waitFor('the kubelet to rotate the token', async () => {
        const tok = await podToken(cluster, t.namespace);
        return tok !== firstToken ? tok : undefined;
      }, (LIFETIME_S + 60) * 1000 - (Date.now() - startedAt), 5000);
      const rotatedAfterS = Math.round((Date.now() - startedAt) / 1000);
      const next = claims(rotated);
      expect(next.iat).toBeGreaterThan(first.iat);
      expect(next.exp - next.iat).toBe(LIFETIME_S);
      expect(await apiCode(t, rotated)).toBe(200);

      // containerboot still holds the revoked token (cached up to 30 min); its next write gets the
      // 401, re-reads the file and retries once with the kubelet's new token.
      const n = await lab.headscale.findNode(fqdn.split('.')[0]!);
      await lab.headscale.cli(['nodes', 'rename', '-i', String(n!.id), 'rotated-sidecar']);
      const s = await waitFor('device_fqdn written with the new token', async () => {
        const x = await t.read();
        return x?.device_fqdn === 'rotated-sidecar.lab.test.' ? x : undefined;
      }, 60_000, 500);
      expect(s.device_fqdn).toBe('rotated-sidecar.lab.test.');
      const pod = await cluster.core.readNamespacedPod({ name: 'nginx', namespace: t.namespace });
      expect(pod.status!.containerStatuses!.find((c) => c.name === 'ts-sidecar')!.restartCount).toBe(0);
      const logs = await podLogs(cluster, t.namespace, 'nginx', 'ts-sidecar');
      expect(logs).not.toContain(firstToken);
      expect(logs).not.toContain(rotated);
      console.log(`rotation: token ${digest(firstToken)} → ${digest(rotated)} ${rotatedAfterS} s after the Pod started`);
      await cluster.core.deleteNamespacedPod({ name: 'nginx', namespace: t.namespace });
    }, (LIFETIME_S + 180) * 1000);
  });
}
