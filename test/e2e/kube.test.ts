// Kubernetes state on the real stack: containerboot with TS_KUBE_SECRET, the real tailscaled
// keeping its state in that Secret (`--state=kube:tailscale`, tailscaled's own kubestore), both
// talking to the project's fake API server, which runs on 127.0.0.1 inside the pod namespace. The
// service-account files are mounted at /var/run/secrets/kubernetes.io/serviceaccount in the pod's
// private /run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, waitFor } from '../lab/lab.js';
import { startKubeApi } from '../lab/kube.js';

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.start({ name: 'kube' });
}, 60_000);
afterAll(async () => {
  await lab?.teardown();
}, 90_000);

describe('TS_KUBE_SECRET with the real tailscaled kubestore', () => {
  it('(12) state and device info land in the Secret; a restart keeps the node identity from the Secret alone', async () => {
    const pod = await lab.addNode('pod', { lan: true });
    const api = await startKubeApi(lab, pod);
    const env = { ...api.env, TS_KUBE_SECRET: 'tailscale', TS_HOSTNAME: 'kube-pod', POD_NAME: 'kube-pod-0', POD_UID: 'uid-1234' };
    const first = lab.startContainerboot(pod, { env: { ...env, TS_AUTHKEY: await lab.createKey() }, serviceAccountDir: api.saDir, name: 'containerboot-kube-1' });
    const s1 = await first.waitRunning();
    await first.waitStartupComplete(30_000);
    expect(first.output()).toMatch(/--state=kube:tailscale/);

    const secret = await waitFor('device info in the Secret', async () => {
      const s = await api.secret('tailscale');
      return s?.device_ips ? s : undefined;
    }, 15_000);
    // Written by tailscaled's kubestore.
    expect(Object.keys(secret)).toEqual(expect.arrayContaining(['_machinekey', '_profiles', '_current-profile']));
    expect(Object.keys(secret).filter((k) => k.startsWith('profile-'))).toHaveLength(1);
    // Written by containerboot.
    expect(secret.device_id).toBe(s1.Self.ID);
    expect(secret.device_fqdn).toBe('kube-pod.lab.test.');
    expect(JSON.parse(secret.device_ips)).toEqual(s1.TailscaleIPs);
    expect(secret.pod_uid).toBe('uid-1234');
    expect(Number(secret.tailscale_capver)).toBeGreaterThan(100);
    await first.stop();
    expect(first.proc.exitInfo?.code).toBe(0);

    // No auth key this time: only the state in the Secret can log the node in.
    const second = lab.startContainerboot(pod, { env, serviceAccountDir: api.saDir, name: 'containerboot-kube-2' });
    const s2 = await second.waitRunning();
    await second.waitStartupComplete(30_000);
    expect(s2.Self.PublicKey).toBe(s1.Self.PublicKey);
    expect(s2.TailscaleIPs).toEqual(s1.TailscaleIPs);
    expect((await lab.headscale.nodes()).filter((n) => n.name.startsWith('kube-pod'))).toHaveLength(1);
    const after = await waitFor('device info rewritten after the restart', async () => {
      const s = await api.secret('tailscale');
      return s?.device_ips ? s : undefined;
    }, 15_000);
    expect(after.device_id).toBe(secret.device_id);
    expect(after._machinekey).toBe(secret._machinekey);
    // Both processes used the API server (containerboot's client and tailscaled's kubestore).
    const paths = (await api.requests()).map((r) => `${r.method} ${r.path}`);
    expect(paths.some((p) => /secrets\/tailscale/.test(p))).toBe(true);
    await second.stop();
    expect(second.proc.exitInfo?.code).toBe(0);
  }, 150_000);
});
