// Upstream's sidecar manifest (docs/k8s/sidecar.yaml of tailscale.com@v1.102.3) as a real Pod: the
// kubelet projects the token, the downward API fills POD_NAME/POD_UID, the auth key comes from a
// Secret through secretKeyRef. Only `image:` is swapped (host-root image, see
// test/lab/cluster-pods.ts) plus the lab's login server and DERP knobs.
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { ensureHostrootImage, onHostroot, waitPodRunning, webContainer } from '../lab/cluster-pods.js';
import { tenant, upstreamManifest } from './tenant.js';

export function describePods(get: () => { lab: Lab; cluster: Cluster; dir: string }): void {
  describe('upstream manifests as real Pods', () => {
    it('sidecar (kernel): joins the tailnet, state Secret by kubestore, a tailnet peer reaches the app; a recreated Pod keeps the node from the Secret alone', async () => {
      const { lab, cluster, dir } = get();
      await ensureHostrootImage(cluster);
      const t = await tenant(cluster, dir);
      const key = await lab.createKey();
      await cluster.core.createNamespacedSecret({ namespace: t.namespace, body: { metadata: { name: 'tailscale-auth' }, stringData: { TS_AUTHKEY: key } } });
      const manifest = () => {
        const pod = upstreamManifest<k8s.V1Pod>('docs/k8s/sidecar.yaml', { SA_NAME: 'tailscale', TS_KUBE_SECRET: t.secret });
        const app = webContainer('nginx');
        pod.spec!.containers = pod.spec!.containers.map((c) => (c.name === 'nginx' ? app : c));
        onHostroot(pod.spec!, 'ts-sidecar');
        return pod;
      };
      const pod = manifest();
      expect(pod.spec!.containers.find((c) => c.name === 'ts-sidecar')!.env!.map((e) => e.name)).toEqual(expect.arrayContaining(['TS_KUBE_SECRET', 'TS_USERSPACE', 'TS_AUTHKEY', 'POD_NAME', 'POD_UID']));
      await cluster.core.createNamespacedPod({ namespace: t.namespace, body: pod });
      const running = await waitPodRunning(cluster, t.namespace, 'nginx', 90_000);
      const secret = await waitFor('device info from the sidecar', async () => {
        const s = await t.read();
        return s?.device_ips ? s : undefined;
      }, 60_000, 500);
      expect(Object.keys(secret)).toEqual(expect.arrayContaining(['_machinekey', '_profiles', '_current-profile', 'device_id', 'device_fqdn']));
      expect(running.status?.podIP).toMatch(/^10\.244\.0\./);
      const ip = (JSON.parse(secret.device_ips!) as string[]).find((a) => !a.includes(':'))!;

      const peer = await lab.startPeer(`sp${process.pid % 1000}`, { hostname: 'sidecar-peer' });
      await peer.waitForPeer(secret.device_fqdn!.split('.')[0]!, 30_000);
      const r = await waitFor('the app through the sidecar', async () => {
        const x = await lab.curl(peer.node, `http://${ip}:8080/hi`, 4);
        return x.status === 200 ? x : undefined;
      }, 40_000, 500);
      expect(r.body).toContain('hello from nginx');
      const logs = await cluster.kubectl('logs', '-n', t.namespace, 'nginx', '-c', 'ts-sidecar');
      expect(logs.stdout).toContain('Startup complete, waiting for shutdown signal');
      expect(logs.stdout).not.toContain(key);

      // Recreated without the auth key: only the state Secret can log it in.
      await cluster.core.deleteNamespacedPod({ name: 'nginx', namespace: t.namespace });
      await waitFor('pod gone', async () => {
        try { await cluster.core.readNamespacedPod({ name: 'nginx', namespace: t.namespace }); return false; } catch { return true; }
      }, 60_000, 300);
      await cluster.core.deleteNamespacedSecret({ name: 'tailscale-auth', namespace: t.namespace });
      await cluster.core.createNamespacedPod({ namespace: t.namespace, body: manifest() });
      const again = await waitPodRunning(cluster, t.namespace, 'nginx', 90_000);
      const s2 = await waitFor('device info rewritten by the new pod', async () => {
        const s = await t.read();
        return s && s.pod_uid === again.metadata!.uid && s.device_ips ? s : undefined; // downward API → POD_UID → boot reset
      }, 60_000, 500);
      expect(s2.device_id).toBe(secret.device_id);
      expect(s2.device_ips).toBe(secret.device_ips);
      expect(s2._machinekey).toBe(secret._machinekey);
      await cluster.core.deleteNamespacedPod({ name: 'nginx', namespace: t.namespace });
    }, 300_000);
  });
}
