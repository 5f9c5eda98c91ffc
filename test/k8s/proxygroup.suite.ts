// An egress ProxyGroup (2 replicas) as the operator builds it (test/k8s/pgSpec.ts): both replicas
// port-map a client Pod's traffic to tailnet targets from the ConfigMap `<pg>-egress-config`; the
// test writes what the operator writes and a client Pod talks to the replicas' Pod IPs directly.
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Lab } from '../lab/lab.js';
import { waitFor } from '../lab/lab.js';
import type { Cluster } from '../lab/cluster.js';
import { api, followLogs, podLogs, waitPodRunning, webPod } from '../lab/cluster-pods.js';
import { createPGSecrets, pgConfig, pgStatefulSet, secretKey, setPGConfigMap, setUpPG } from './pgSpec.js';

type Ctx = () => { lab: Lab; cluster: Cluster; dir: string };

const PG = 'egress-pg';
const REPLICAS = 2;

type EgressConfig = Record<string, { tailnetTarget: { ip?: string; fqdn?: string }; ports: { protocol: string; matchPort: number; targetPort: number }[]; healthCheckEndpoint?: string }>;

const egressData = (cfg: EgressConfig, replicas = REPLICAS) => ({ 'egress-services': JSON.stringify(cfg), 'hep-pings': String(replicas * 3) });

async function egressStatus(c: Cluster, namespace: string, pg: string, i: number): Promise<{ podIPv4?: string; services?: Record<string, { ports: unknown[]; tailnetTargetIPs: string[] | null }> } | undefined> {
  const v = await secretKey(c, namespace, `${pg}-${i}`, 'egress-services');
  return v ? JSON.parse(v) : undefined;
}

export function describeProxyGroup(get: Ctx): void {
  describe('an egress ProxyGroup on the real cluster', () => {
    it('2 replicas: both serve the ConfigMap`s services; the FQDN target moving to another peer (S3), a ConfigMap edit and a broken ConfigMap (S2) are seen in both replicas` kernel rules and Secrets; deleting a replica runs the preStop drain', async () => {
      const { lab, cluster } = get();
      const namespace = `cb-pg-${process.pid}`;
      const o = await setUpPG(cluster, { name: PG, namespace, kind: 'egress' as const, replicas: REPLICAS });
      const peer = await lab.startPeer('pgtarget', { hostname: 'pg-target', kernel: true });
      await lab.startWebServer(peer.node, 'pg-target', 8080);
      const targetIP = await peer.ip4();
      const key = await lab.createKey({ reusable: true });
      await createPGSecrets(cluster, o, (i) => pgConfig(o, key, i));
      await setPGConfigMap(cluster, o, egressData({ web: { tailnetTarget: { fqdn: 'pg-target.lab.test' }, ports: [{ protocol: 'tcp', matchPort: 9080, targetPort: 8080 }] } }), true);
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: pgStatefulSet(o) }));
      await api(cluster.core.createNamespacedPod({ namespace, body: webPod('client') }));
      await waitPodRunning(cluster, namespace, 'client', 60_000);
      const pods: k8s.V1Pod[] = [];
      for (let i = 0; i < REPLICAS; i++) pods.push(await waitPodRunning(cluster, namespace, `${PG}-${i}`, 120_000));
      const ips = pods.map((p) => p.status!.podIP!);

      const curl = (ip: string, port: number) => cluster.kubectl('exec', '-n', namespace, 'client', '--', 'curl', '-sS', '--max-time', '3', `http://${ip}:${port}/pg`);
      const reaches = (ip: string, port: number, who = 'pg-target') => waitFor(`client → ${ip}:${port} → ${who}`, async () => {
        const r = await curl(ip, port);
        return r.code === 0 && r.stdout.includes(`hello from ${who}`) ? r.stdout : undefined;
      }, 60_000, 1000);
      const status = (i: number) => egressStatus(cluster, namespace, PG, i);
      const natRules = async (i: number) => (await cluster.kubectl('exec', '-n', namespace, `${PG}-${i}`, '-c', 'tailscale', '--', 'iptables-save', '-t', 'nat')).stdout;
      const ruleLines = async (i: number) => (await natRules(i)).split('\n').filter((l) => l.startsWith('-A ')).join('\n'); // without the packet counters
      for (const ip of ips) expect(await reaches(ip, 9080)).toContain('path=/pg');
      for (let i = 0; i < REPLICAS; i++) {
        const st = await waitFor(`egress status in ${PG}-${i}`, async () => (await status(i))?.services?.web ? status(i) : undefined, 30_000, 500);
        expect(st!.podIPv4).toBe(ips[i]);
        expect(await secretKey(cluster, namespace, `${PG}-${i}`, 'pod_uid')).toBe(pods[i]!.metadata!.uid); // the Secret existed at boot: the reset ran
        expect(await secretKey(cluster, namespace, `${PG}-${i}`, 'tailscale_capver')).toBe('142');
        expect(st!.services!.web!.tailnetTargetIPs).toEqual([targetIP, expect.stringMatching(/^fd7a:115c:a1e0::/)]); // every address of the FQDN target
      }

      // S3: the MagicDNS name moves to another peer (two renames in headscale); every replica
      // re-resolves the FQDN on the next netmap and re-points its port map and status.
      const other = await lab.startPeer('pgother', { hostname: 'pg-other', kernel: true });
      await lab.startWebServer(other.node, 'pg-other', 8080);
      const otherIP = await other.ip4();
      const [first, second] = [await lab.headscale.findNode('pg-target'), await lab.headscale.findNode('pg-other')];
      await lab.headscale.cli(['nodes', 'rename', '-i', String(first!.id), 'pg-old']);
      await lab.headscale.cli(['nodes', 'rename', '-i', String(second!.id), 'pg-target']);
      for (let i = 0; i < REPLICAS; i++) {
        await waitFor(`${PG}-${i}: web resolves to the other peer`, async () => {
          const st = await status(i);
          return st?.services?.web?.tailnetTargetIPs?.[0] === otherIP ? st : undefined;
        }, 60_000, 500);
        const rules = await natRules(i);
        expect(rules).toContain(`--to-destination ${otherIP}:8080`);
        expect(rules).not.toContain(`--to-destination ${targetIP}:8080`);
      }
      for (const ip of ips) await reaches(ip, 9080, 'pg-other');

      // The operator rewrites the ConfigMap: web moves to an IP target on 9081. The kubelet swaps ..data.
      const t0 = Date.now();
      const web2 = (healthCheckEndpoint: string, ip = targetIP) => ({ web2: { tailnetTarget: { ip }, ports: [{ protocol: 'tcp', matchPort: 9081, targetPort: 8080 }], healthCheckEndpoint } });
      await setPGConfigMap(cluster, o, egressData(web2('')));
      for (let i = 0; i < REPLICAS; i++) {
        await waitFor(`${PG}-${i}: status lists web2 only`, async () => {
          const st = await status(i);
          return st?.services?.web2 && !st.services.web ? st : undefined;
        }, 60_000, 500);
        const rules = await natRules(i);
        expect(rules).toMatch(/--dport 9081 .*DNAT --to-destination 100\./);
        expect(rules).not.toMatch(/--dport 9080 /);
      }
      const swapMs = Date.now() - t0;
      for (const ip of ips) await reaches(ip, 9081);
      expect((await curl(ips[0]!, 9080)).code).not.toBe(0);

      // S2: a broken ConfigMap (a target that is not an IP) is logged naming the file and the
      // service; both replicas keep their rules and status, and keep running.
      const before = await Promise.all([0, 1].map(async (i) => ({ rules: await ruleLines(i), status: JSON.stringify(await status(i)) })));
      await setPGConfigMap(cluster, o, egressData(web2('', '100.64.0.300')));
      for (let i = 0; i < REPLICAS; i++) {
        const line = await waitFor(`${PG}-${i} logs the broken config`, async () =>
          (await podLogs(cluster, namespace, `${PG}-${i}`, 'tailscale')).split('\n').find((l) => l.includes('invalid egress services config')), 60_000, 1000);
        expect(line).toMatch(/invalid egress services config \/etc\/proxies\/egress-services: service "web2": .*100\.64\.0\.300.*; keeping the current egress firewall rules and status/);
        expect(await ruleLines(i)).toBe(before[i]!.rules);
        expect(JSON.stringify(await status(i))).toBe(before[i]!.status);
      }
      for (const ip of ips) await reaches(ip, 9081);

      // preStop: the hook pings the health endpoint (here replica 0's /healthz: the stand-in for a
      // Service whose endpoints no longer include replica 1), sees another Pod's identity, then
      // sleeps before answering; only then does the kubelet send SIGTERM.
      await setPGConfigMap(cluster, o, egressData(web2(`http://${ips[0]}:9002/healthz`)));
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
      await other.stop();
      await peer.stop();
    }, 480_000);

    it('a replica without POD_IPS (S8): deleted, its preStop hook cannot tell whether cluster traffic still arrives, reports the service drained without pinging, then sleeps', async () => {
      const { lab, cluster } = get();
      const namespace = `cb-pg-noip-${process.pid}`;
      const o = await setUpPG(cluster, { name: 'noip-pg', namespace, kind: 'egress' as const, replicas: 1, withoutEnv: ['POD_IPS'] });
      const key = await lab.createKey();
      await createPGSecrets(cluster, o, (i) => pgConfig(o, key, i));
      await setPGConfigMap(cluster, o, egressData({ web: { tailnetTarget: { ip: '100.64.0.99' }, ports: [{ protocol: 'tcp', matchPort: 9080, targetPort: 8080 }], healthCheckEndpoint: 'http://10.244.0.1:9/healthz' } }, 1), true);
      await api(cluster.apps.createNamespacedStatefulSet({ namespace, body: pgStatefulSet(o) }));
      const pod = 'noip-pg-0';
      await waitPodRunning(cluster, namespace, pod, 120_000);
      await waitFor(`${pod}: Startup complete`, async () => ((await podLogs(cluster, namespace, pod, 'tailscale')).includes('Startup complete') ? true : undefined), 60_000, 1000);
      const logs = followLogs(cluster, namespace, pod, 'tailscale');
      await cluster.core.deleteNamespacedPod({ name: pod, namespace });
      const out = await logs.done(60_000);
      expect(out).toContain('Pod IPs are not known, unable to verify if cluster traffic for "web" is still routed via this Pod');
      expect(out).not.toContain('can not be reached'); // nothing was pinged
      expect(out).toMatch(/Sleeping for 10s before shutdown/);
      expect(out).not.toContain(key);
      await cluster.apps.deleteNamespacedStatefulSet({ name: o.name, namespace });
    }, 180_000);
  });
}
