// COMPATIBILITY.md's Kubernetes rows that are about containerboot's own client (K1, K2, K6, K8,
// K11, K13), each against the real API server: containerboot runs in a lab namespace with a
// minted service-account token, and what it wrote is read back from the API server.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Lab, type LabNode, LOGIN_SERVER, waitFor } from '../lab/lab.js';
import { type Cluster, CLUSTER_LAB_IP, clusterEnv } from '../lab/cluster.js';
import { spawnInNs } from '../lab/proc.js';
import { NODE24, REPO_ROOT } from '../lab/tools.js';
import { writeAtomically } from '../kube/atomicWriter.js';
import { type Tenant, tenant } from './tenant.js';

type Booted = { cb: ReturnType<Lab['startContainerboot']>; node: LabNode; hostname: string };
export interface RowsCtx {
  lab: Lab;
  cluster: Cluster;
  dir: string;
  boot(t: Tenant, opts?: { authKey?: boolean; hostname?: string; env?: Record<string, string>; node?: LabNode }): Promise<Booted>;
  secretWhere(t: Tenant, what: string, pred: (s: Record<string, string>) => boolean, timeoutMs?: number): Promise<Record<string, string>>;
  rename(hostname: string, to: string): Promise<void>;
}

/** The API server's process, paused (SIGSTOP) so that it accepts connections but never answers. */
function apiServerPid(c: Cluster): number {
  const pid = Number(fs.readFileSync(path.join(c.dir, 'run', 'kube-apiserver.pid'), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no kube-apiserver pid in ${c.dir}/run`);
  return pid;
}

// The cluster's forwarder, listening on [::1]:6443 in a lab namespace: the cluster itself is
// IPv4-only, and its serving certificate names ::1 (scripts/k8s/cluster.sh).
const FORWARD = [NODE24, path.join(REPO_ROOT, 'scripts', 'k8s', 'api-forward.mjs'), '[::1]:6443', CLUSTER_LAB_IP, '6443'];

export function describeKubeRows(ctx: () => RowsCtx): void {
  describe('COMPATIBILITY K-rows on the real API server', () => {
    it('K1: an IPv6 KUBERNETES_SERVICE_HOST (::1) is bracketed; the device info lands through it', async () => {
      const { lab, boot, secretWhere, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      const fwdNode = await lab.addNode('k1fwd', { lan: true });
      const fwd = spawnInNs(fwdNode.ns, FORWARD, { name: 'k1-forward', env: {}, logPath: path.join(fwdNode.dir, 'k1-forward.log') });
      try {
        await waitFor('the [::1]:6443 forwarder', () => fs.readFileSync(path.join(fwdNode.dir, 'k1-forward.log'), 'utf8').includes('listening'), 10_000);
        // containerboot joins the forwarder's namespace: its ::1 is the forwarder's.
        const { cb, hostname } = await boot(t, { node: fwdNode, env: { KUBERNETES_SERVICE_HOST: '::1' } });
        await cb.waitRunning();
        const s = await secretWhere(t, 'device info via [::1]', (x) => Boolean(x.device_fqdn));
        expect(s.device_fqdn).toBe(`${hostname}.lab.test.`);
        expect(cb.output()).not.toMatch(/https:\/\/::1:/);
        await cb.stop();
        expect(cb.proc.exitInfo?.code).toBe(0);
      } finally {
        await fwd.stop();
      }
    }, 120_000);

    it('K2: TS_KUBE_SECRET without KUBERNETES_SERVICE_HOST: exit 1 with the explanation, nothing spawned or written', async () => {
      const { boot, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      const { cb } = await boot(t, { env: { KUBERNETES_SERVICE_HOST: '', TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV: '' } });
      const exit = await cb.proc.waitExit(20_000);
      expect(exit.code).toBe(1);
      expect(cb.output()).toContain('error initializing kube client: TS_KUBE_SECRET is set to "tailscale", but containerboot is not running in Kubernetes (KUBERNETES_SERVICE_HOST is empty)');
      expect(cb.pidsOf('tailscaled')).toEqual([]);
      expect(await t.read()).toBeUndefined();
    }, 60_000);

    it('K6: a hung API server (paused) gives a 10 s request timeout, retried as transient; the write lands once it answers', async () => {
      const { boot, secretWhere, rename, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      const { cb, hostname } = await boot(t);
      await cb.waitRunning();
      await secretWhere(t, 'device info', (s) => Boolean(s.device_fqdn), 30_000);
      const pid = apiServerPid(cluster);
      process.kill(pid, 'SIGSTOP');
      try {
        await rename(hostname, `${hostname}-h`); // headscale, not the API server
        await waitFor('a request timeout in containerboot`s log', () => /no answer within 10s \(request timeout\)/.test(cb.output()), 40_000, 250);
        expect(cb.output()).toMatch(/transient error \(attempt \d+\), retrying in/);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const s = await secretWhere(t, 'renamed device_fqdn', (x) => x.device_fqdn === `${hostname}-h.lab.test.`, 60_000);
      expect(s.device_fqdn).toBe(`${hostname}-h.lab.test.`);
      expect(cb.proc.running).toBe(true);
      await cb.stop();
      expect(cb.proc.exitInfo?.code).toBe(0);
    }, 150_000);

    it('K8: an authkey from the state Secret is used (and with TS_AUTH_ONCE deleted); the "No authkey found" line is not logged', async () => {
      const { lab, boot, secretWhere, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      await cluster.core.createNamespacedSecret({ namespace: t.namespace, body: { metadata: { name: t.secret }, stringData: { authkey: await lab.createKey() } } });
      const { cb } = await boot(t, { authKey: false, env: { TS_AUTH_ONCE: 'true' } });
      await cb.waitRunning();
      const s = await secretWhere(t, 'authkey deleted, device info written', (x) => x.authkey === undefined && Boolean(x.device_id));
      expect(s._machinekey).toBeDefined();
      expect(cb.output()).toContain('Deleting authkey from Kubernetes Secret');
      expect(cb.output()).not.toContain('No authkey found in state Secret');
      await cb.stop();
      expect(cb.proc.exitInfo?.code).toBe(0);
    }, 120_000);

    it('K13: one-step mode with a rejected auth key: reissue_authkey lands in the real Secret; the new key in the config volume ends the wait (exit 0, request cleared)', async () => {
      const { lab, cluster, dir } = ctx();
      const bad = '0123456789abcdef'.repeat(3); // no such pre-auth key in headscale
      const t = await tenant(cluster, dir);
      const node = await lab.addNode('reissue', { lan: true }); // not k<N>: boot() names its nodes so
      const cfg = path.join(node.dir, 'tsconfig');
      // The kubelet's Secret-volume layout; an update swaps ..data, as the operator's new config Secret would.
      const publish = (key: string) => writeAtomically(cfg, { 'cap-100.hujson': `{"Version": "alpha0", "AuthKey": "${key}", "ServerURL": "${LOGIN_SERVER}", "Hostname": "reissue", "AcceptDNS": false}\n` });
      publish(bad);
      const env = { ...clusterEnv(), TS_KUBE_SECRET: t.secret, POD_NAME: 'reissue-0', POD_UID: 'uid-reissue', TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: cfg };
      const cb = lab.startContainerboot(node, { env, noLoginServer: true, serviceAccountDir: t.saDir, name: 'containerboot-reissue' });
      await cb.proc.waitForOutput(/Requesting a new auth key from operator/, 60_000);
      const asked = await waitFor('reissue_authkey in the Secret', async () => (await t.read())?.reissue_authkey, 30_000);
      expect(asked).toBe(bad);
      const good = await lab.createKey();
      publish(good);
      const exit = await cb.proc.waitExit(60_000);
      expect(exit.code).toBe(0);
      expect(cb.output()).toContain('Successfully received new auth key, restarting to apply configuration');
      expect((await t.read())?.reissue_authkey).toBeUndefined();
      expect(cb.output()).not.toContain(bad);
      expect(cb.output()).not.toContain(good);

      // The failed-write text (K13's pinned message) is tested against the fake API server only:
      // on the real cluster a Role without `patch` also stops tailscaled's own kubestore in
      // one-step mode (it stayed in NoState for the whole minute), so no reissue is ever asked.
    }, 150_000);

    it('K10: a token file ending in a newline: containerboot`s own requests (permission check, boot reset) succeed on the real server; tailscaled`s kubestore, which sends the file verbatim, is what fails', async () => {
      const { boot, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      // Pre-created (as the operator does), so the boot reset patches it before tailscaled starts.
      await cluster.core.createNamespacedSecret({ namespace: t.namespace, body: { metadata: { name: t.secret } } });
      fs.writeFileSync(path.join(t.saDir, 'token'), `${t.token}\n`); // as `echo "$TOKEN" > token` writes it
      const { cb } = await boot(t, { env: { POD_UID: 'uid-k10' } });
      const s = await waitFor('the boot reset in the real Secret', async () => {
        const x = await t.read();
        return x?.pod_uid === 'uid-k10' ? x : undefined;
      }, 30_000, 200);
      expect(s.tailscale_capver).toBe('142');
      // tailscaled v1.102.3 puts the file into its Authorization header as read (COMPATIBILITY K10).
      await cb.proc.waitForOutput(/invalid header field value for "Authorization"/, 60_000);
      if (cb.proc.running) await cb.stop();
      const out = cb.output();
      expect(out).not.toContain('permissions are missing');
      expect(out).not.toContain(t.token);
    }, 120_000);

    it('S11/S12: TS_SERVE_CONFIG in the kubelet`s ..data layout with auto-advertisement on: each applied config`s Services are advertised (prefs as tailscaled`s kubestore persists them in the real Secret), a new set replaces the old, shutdown unadvertises', async () => {
      const { lab, boot, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      const node = await lab.addNode('serveadv', { lan: true }); // not k<N>: boot() names its nodes so
      const cfgDir = path.join(node.dir, 'serve');
      const publish = (svc: string) => writeAtomically(cfgDir, { 'serve-config.json': JSON.stringify({ Services: { [svc]: {
        TCP: { '80': { HTTP: true } }, Web: { [`${svc.slice(4)}.lab.test:80`]: { Handlers: { '/': { Text: `hello from ${svc}` } } } },
      } } }) });
      publish('svc:alpha');
      const { cb } = await boot(t, { node, env: { TS_SERVE_CONFIG: path.join(cfgDir, 'serve-config.json') } });
      await cb.waitStartupComplete(30_000);
      const advertised = async () => {
        const s = await t.read();
        const prefs = s?.[s['_current-profile'] ?? ''];
        return prefs === undefined ? undefined : ((JSON.parse(prefs) as { AdvertiseServices?: string[] | null }).AdvertiseServices ?? []);
      };
      const until = (want: string[]) => waitFor(`AdvertiseServices ${JSON.stringify(want)} in the Secret`, async () => {
        const a = await advertised();
        return JSON.stringify(a) === JSON.stringify(want) ? a : undefined;
      }, 30_000, 300);
      expect(await until(['svc:alpha'])).toEqual(['svc:alpha']);
      publish('svc:beta');
      expect(await until(['svc:beta'])).toEqual(['svc:beta']);
      await cb.stop(40_000); // the unadvertisement waits 20 s for the tailnet
      expect(cb.proc.exitInfo?.code).toBe(0);
      expect(cb.output()).toContain('unadvertising services: [svc:beta]');
      expect(await advertised()).toEqual([]);
    }, 120_000);

    it('K11: shutdown checks the real Secret for consistent state before stopping tailscaled', async () => {
      const { boot, secretWhere, cluster, dir } = ctx();
      const t = await tenant(cluster, dir);
      const { cb } = await boot(t);
      await cb.waitRunning();
      await secretWhere(t, 'device info', (s) => Boolean(s.device_ips));
      await cb.stop();
      expect(cb.proc.exitInfo?.code).toBe(0);
      const out = cb.output();
      expect(out).toContain('Checking for consistent state');
      expect(out).not.toContain('Error waiting for consistent state');
      expect(out.indexOf('Checking for consistent state')).toBeLessThan(out.indexOf('Sending SIGTERM to tailscaled'));
      expect(Object.keys((await t.read())!)).toEqual(expect.arrayContaining(['_machinekey', '_current-profile', '_profiles']));
    }, 120_000);
  });
}
