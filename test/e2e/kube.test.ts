// Kubernetes state on the real stack: containerboot with TS_KUBE_SECRET, the real tailscaled
// keeping its state in that Secret (`--state=kube:tailscale`, tailscaled's own kubestore), both
// talking to the project's fake API server, which runs on 127.0.0.1 inside the pod namespace. The
// service-account files are mounted at /var/run/secrets/kubernetes.io/serviceaccount in the pod's
// private /run.
import fs from 'node:fs';
import path from 'node:path';
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

  it('(13) HA egress services (TS_EGRESS_PROXIES_CONFIG_PATH): port-mapped cluster traffic reaches tailnet targets; config edits add and delete rules; status in the Secret', async () => {
    const cluster = await lab.addNode('cluster', { cluster: true });
    const peer = await lab.startPeer('peer', { hostname: 'lab-peer', kernel: true });
    await lab.startWebServer(peer.node, 'tailnet-peer', 8080);
    const pod = await lab.addNode('egress', { lan: true, cluster: true });
    const api = await startKubeApi(lab, pod);
    // What the operator's privileged init container does for egress ProxyGroup pods.
    expect((await lab.exec(pod, ['sysctl', '-w', 'net.ipv4.ip_forward=1'])).code).toBe(0);
    const cfgDir = path.join(pod.dir, 'egress');
    fs.mkdirSync(cfgDir);
    const cfg = path.join(cfgDir, 'egress-services');
    fs.writeFileSync(cfg, JSON.stringify({ web: { tailnetTarget: { fqdn: 'lab-peer.lab.test' }, ports: [{ protocol: 'tcp', matchPort: 9080, targetPort: 8080 }] } }));
    const cb = lab.startContainerboot(pod, {
      env: {
        ...api.env,
        TS_KUBE_SECRET: 'tailscale',
        TS_AUTHKEY: await lab.createKey(),
        TS_HOSTNAME: 'egress-pg-0',
        POD_NAME: 'egress-pg-0',
        POD_IPS: pod.clusterIP!,
        TS_USERSPACE: 'false',
        TS_EGRESS_PROXIES_CONFIG_PATH: cfgDir,
        TS_LOCAL_ADDR_PORT: `${pod.clusterIP}:9002`,
        TS_TEST_SLEEP_DURATION: '10ms',
      },
      serviceAccountDir: api.saDir,
      name: 'containerboot-egress-svc',
    });
    await cb.waitRunning();
    await cb.waitStartupComplete(30_000);
    const proxyIP = await cb.ip4();
    const get = (port: number) => waitFor(`GET pod:${port}`, async () => {
      const r = await lab.curl(cluster, `http://${pod.clusterIP}:${port}/svc`, 3);
      return r.status === 200 ? r : undefined;
    }, 20_000, 300);
    expect((await get(9080)).body).toContain(`hello from tailnet-peer; client=${proxyIP}`);

    // Replace the service: an IP target on another port. The old port-map rule goes away.
    fs.writeFileSync(cfg, JSON.stringify({ web2: { tailnetTarget: { ip: await peer.ip4() }, ports: [{ protocol: 'tcp', matchPort: 9081, targetPort: 8080 }] } }));
    expect((await get(9081)).body).toContain('hello from tailnet-peer');
    const gone = await waitFor('port 9080 no longer mapped', async () => {
      const r = await lab.curl(cluster, `http://${pod.clusterIP}:9080/svc`, 2);
      return r.status === 0 && /Couldn't connect|refused/i.test(r.error) ? r : undefined;
    }, 10_000, 300);
    expect(gone.status).toBe(0);
    const status = await waitFor('egress-services status for web2', async () => {
      const v = (await api.secret('tailscale'))?.['egress-services'];
      return v && JSON.parse(v).services?.web2 ? JSON.parse(v) : undefined;
    }, 10_000);
    expect(status).toEqual({
      podIPv4: pod.clusterIP,
      services: { web2: { ports: [{ protocol: 'tcp', matchPort: 9081, targetPort: 8080 }], tailnetTargetIPs: [await peer.ip4()], tailnetTarget: { ip: await peer.ip4(), fqdn: '' } } },
    });
    // The preStop hook: no health-check endpoint configured, so it only waits the (test) sleep.
    const pre = await lab.curl(cluster, `http://${pod.clusterIP}:9002/internal-egress-services-preshutdown`, 20);
    expect(pre.status).toBe(200);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 150_000);
});
