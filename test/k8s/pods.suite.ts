// Upstream's manifests (docs/k8s/*.yaml of tailscale.com@v1.102.3) as real Pods: the kubelet
// projects the token, the downward API fills POD_NAME/POD_UID, the auth key comes from a Secret
// through secretKeyRef, the init container sets the forwarding sysctls. Only `image:` is swapped
// (the host-root image, see test/lab/cluster-pods.ts) plus the lab's login server and DERP knobs;
// the app container (upstream: nginx) is the lab's web server on :8080.
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, ensurePodImages, onImage, podLogs, waitPodRunning, webContainer, webPod } from '../lab/cluster-pods.js';
import { type Tenant, tenant, upstreamManifest } from './tenant.js';

type Ctx = () => { lab: Lab; cluster: Cluster; dir: string };

async function withAuthKey(ctx: ReturnType<Ctx>, t: Tenant): Promise<string> {
  const key = await ctx.lab.createKey();
  await api(ctx.cluster.core.createNamespacedSecret({ namespace: t.namespace, body: { metadata: { name: 'tailscale-auth' }, stringData: { TS_AUTHKEY: key } } }));
  return key;
}

async function deviceInfo(t: Tenant, pred: (s: Record<string, string>) => boolean = () => true) {
  return waitFor('device info in the state Secret', async () => {
    const s = await t.read();
    return s?.device_ips && pred(s) ? s : undefined;
  }, 60_000, 500);
}

/** A tailnet peer GETs http://<ip>:8080/ and expects `app`'s answer. */
async function reach(ctx: ReturnType<Ctx>, deviceFqdn: string, ip: string, app: string) {
  const peer = await ctx.lab.startPeer(`pp${Math.random().toString(36).slice(2, 6)}`, { hostname: `peer-${app}`, kernel: true }); // curl needs its TUN route
  await peer.waitForPeer(deviceFqdn.split('.')[0]!, 30_000);
  const r = await waitFor(`${app} through the proxy`, async () => {
    const x = await ctx.lab.curl(peer.node, `http://${ip}:8080/hi`, 4);
    return x.status === 200 ? x : undefined;
  }, 40_000, 500);
  expect(r.body).toContain(`hello from ${app}`);
  await peer.stop();
}

async function deletePod(c: Cluster, namespace: string, name: string) {
  await c.core.deleteNamespacedPod({ name, namespace });
  await waitFor(`pod ${name} gone`, async () => {
    try { await c.core.readNamespacedPod({ name, namespace }); return false; } catch { return true; }
  }, 60_000, 300);
}

function sidecarPod(file: string, t: Tenant): k8s.V1Pod {
  const pod = upstreamManifest<k8s.V1Pod>(file, { SA_NAME: 'tailscale', TS_KUBE_SECRET: t.secret });
  pod.spec!.containers = pod.spec!.containers.map((c) => (c.name === 'nginx' ? webContainer('nginx') : c));
  onImage(pod.spec!, 'ts-sidecar');
  return pod;
}

const ipv4 = (s: Record<string, string>) => (JSON.parse(s.device_ips!) as string[]).find((a) => !a.includes(':'))!;

export function describePods(get: Ctx): void {
  describe('upstream manifests as real Pods', () => {
    it('sidecar.yaml (kernel): joins, kubestore creates the state Secret, a tailnet peer reaches the app; a recreated Pod keeps the node from the Secret alone', async () => {
      const ctx = get();
      const { cluster } = ctx;
      await ensurePodImages(cluster);
      const t = await tenant(cluster, ctx.dir);
      const key = await withAuthKey(ctx, t);
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: sidecarPod('docs/k8s/sidecar.yaml', t) }));
      const running = await waitPodRunning(cluster, t.namespace, 'nginx', 90_000);
      expect(running.status?.podIP).toMatch(/^10\.244\.0\./);
      const secret = await deviceInfo(t);
      expect(Object.keys(secret)).toEqual(expect.arrayContaining(['_machinekey', '_profiles', '_current-profile', 'device_id', 'device_fqdn']));
      await reach(ctx, secret.device_fqdn!, ipv4(secret), 'nginx');
      const logs = await podLogs(cluster, t.namespace, 'nginx', 'ts-sidecar');
      expect(logs).toContain('Startup complete, waiting for shutdown signal');
      expect(logs).not.toContain(key);

      // Recreated without the auth key: only the state Secret can log it in.
      await deletePod(cluster, t.namespace, 'nginx');
      await cluster.core.deleteNamespacedSecret({ name: 'tailscale-auth', namespace: t.namespace });
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: sidecarPod('docs/k8s/sidecar.yaml', t) }));
      const again = await waitPodRunning(cluster, t.namespace, 'nginx', 90_000);
      // downward API → POD_UID → the boot reset (the Secret exists now)
      const s2 = await deviceInfo(t, (s) => s.pod_uid === again.metadata!.uid);
      expect(s2.device_id).toBe(secret.device_id);
      expect(s2.device_ips).toBe(secret.device_ips);
      expect(s2._machinekey).toBe(secret._machinekey);
      expect(s2.tailscale_capver).toBe('142');
      await deletePod(cluster, t.namespace, 'nginx');
    }, 300_000);

    it('userspace-sidecar.yaml (uid 1000, netstack): joins and a tailnet peer reaches the app on localhost', async () => {
      const ctx = get();
      const { cluster } = ctx;
      await ensurePodImages(cluster);
      const t = await tenant(cluster, ctx.dir);
      await withAuthKey(ctx, t);
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: sidecarPod('docs/k8s/userspace-sidecar.yaml', t) }));
      await waitPodRunning(cluster, t.namespace, 'nginx', 90_000);
      const secret = await deviceInfo(t);
      await reach(ctx, secret.device_fqdn!, ipv4(secret), 'nginx');
      await deletePod(cluster, t.namespace, 'nginx');
    }, 240_000);

    it('proxy.yaml (ingress, TS_DEST_IP to a backend Pod, sysctler init container): a tailnet peer reaches the backend', async () => {
      const ctx = get();
      const { cluster } = ctx;
      await ensurePodImages(cluster);
      const t = await tenant(cluster, ctx.dir);
      await withAuthKey(ctx, t);
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: webPod('backend') }));
      const b = await waitPodRunning(cluster, t.namespace, 'backend', 60_000);
      const pod = upstreamManifest<k8s.V1Pod>('docs/k8s/proxy.yaml', { SA_NAME: 'tailscale', TS_KUBE_SECRET: t.secret, TS_DEST_IP: b.status!.podIP! });
      const init = pod.spec!.initContainers!.find((c) => c.name === 'sysctler')!;
      const host = webContainer('sysctler');
      Object.assign(init, { image: host.image, imagePullPolicy: 'Never', volumeMounts: host.volumeMounts });
      onImage(pod.spec!, 'tailscale');
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: pod }));
      await waitPodRunning(cluster, t.namespace, 'proxy', 90_000);
      const secret = await deviceInfo(t);
      await reach(ctx, secret.device_fqdn!, ipv4(secret), 'backend');
      await deletePod(cluster, t.namespace, 'proxy');
      await deletePod(cluster, t.namespace, 'backend');
    }, 240_000);

    it('subnet.yaml (TS_ROUTES = a backend Pod, kernel mode, privileged): with the route approved, a tailnet peer accepting routes reaches the backend through the router (SNAT: the backend sees the router Pod)', async () => {
      const ctx = get();
      const { cluster, lab } = ctx;
      await ensurePodImages(cluster);
      const t = await tenant(cluster, ctx.dir);
      const key = await withAuthKey(ctx, t);
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: webPod('subnet-backend') }));
      const backendIP = (await waitPodRunning(cluster, t.namespace, 'subnet-backend', 60_000)).status!.podIP!;
      const route = `${backendIP}/32`;
      const pod = upstreamManifest<k8s.V1Pod>('docs/k8s/subnet.yaml', { SA_NAME: 'tailscale', TS_KUBE_SECRET: t.secret, TS_ROUTES: route });
      onImage(pod.spec!, 'tailscale');
      await api(cluster.core.createNamespacedPod({ namespace: t.namespace, body: pod }));
      const routerIP = (await waitPodRunning(cluster, t.namespace, 'subnet-router', 90_000)).status!.podIP!;
      await deviceInfo(t);
      const node = await waitFor('the router in headscale, announcing the route', async () => {
        const n = await lab.headscale.findNode('subnet-router');
        return n?.availableRoutes.includes(route) ? n : undefined;
      }, 30_000, 500);
      await lab.headscale.approveRoutes(node.id, [route]);
      const peer = await lab.startPeer('subnetpeer', { hostname: 'peer-subnet', kernel: true, upArgs: ['--accept-routes'] });
      const r = await waitFor('the backend through the subnet router', async () => {
        const x = await lab.curl(peer.node, `http://${backendIP}:8080/hi`, 4);
        return x.status === 200 && x.body.includes(`client=${routerIP}`) ? x : undefined;
      }, 60_000, 1000);
      expect(r.body).toContain('hello from subnet-backend');
      expect(await podLogs(cluster, t.namespace, 'subnet-router', 'tailscale')).not.toContain(key);
      await peer.stop();
      await deletePod(cluster, t.namespace, 'subnet-router');
      await deletePod(cluster, t.namespace, 'subnet-backend');
    }, 240_000);
  });
}
