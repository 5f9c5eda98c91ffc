// The image run the way Docker users run upstream's image (`podman run -e TS_...`), each container
// joined to a lab namespace's network so it reaches the lab's headscale and tailnet peers.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type LabNode, type Peer, waitFor } from '../lab/lab.js';
import { type Container, ensureImage, labContainerEnv, podman, removeAllContainers, runContainer, stateDir } from './podman.js';

let image: string;
let lab: Lab;
let cluster: LabNode; // a backend web server for the ingress proxy
let laptop: Peer; // a kernel-mode tailnet device

beforeAll(async () => {
  image = ensureImage();
  lab = await Lab.start({ name: 'image' });
  cluster = await lab.addNode('cluster', { cluster: true });
  await lab.startWebServer(cluster, 'cluster-backend', 8080);
  laptop = await lab.startPeer('laptop', { hostname: 'laptop', kernel: true });
}, 15 * 60_000);
afterAll(async () => {
  await removeAllContainers();
  await lab?.teardown();
}, 120_000);

async function expectNoKey(c: Container, key: string): Promise<void> {
  const logs = await c.logs();
  expect(logs.includes(key), 'the auth key appears in the container log').toBe(false);
}

async function healthStatus(c: Container): Promise<string> {
  const state = JSON.parse(await c.inspect('{{json .State}}'));
  return (state.Health ?? state.Healthcheck)?.Status ?? '';
}

describe('the image on the lab tailnet', () => {
  it('userspace, TS_AUTHKEY + TS_STATE_DIR on a volume: Running, a peer reaches it, healthy; a restart keeps the identity', async () => {
    const pod = await lab.addNode('user', { lan: true });
    const key = await lab.createKey();
    const c = await runContainer({
      image, node: pod,
      env: { ...labContainerEnv(), TS_AUTHKEY: key, TS_HOSTNAME: 'img-user', TS_STATE_DIR: '/var/lib/tailscale' },
      flags: ['-v', `${stateDir(pod, 'state')}:/var/lib/tailscale`],
    });
    const st = await c.waitRunning();
    const ip = st.TailscaleIPs.find((a: string) => !a.includes(':'));
    await laptop.waitForPeer('img-user');
    // TSMP: answered by the container's tailscaled inside the WireGuard tunnel (not only disco).
    const ping = await laptop.cli(['ping', '--tsmp', '--c=5', '--timeout=5s', ip]);
    expect(ping.stdout, ping.stderr).toMatch(/pong from img-user/);

    const hc = await podman(['healthcheck', 'run', c.name]);
    expect(hc.code, hc.stdout + hc.stderr).toBe(0);
    expect(await healthStatus(c)).toBe('healthy');

    const r = await podman(['restart', '-t', '20', c.name], 60_000);
    expect(r.code, r.stderr).toBe(0);
    const st2 = await c.waitRunning();
    expect(st2.Self.ID).toBe(st.Self.ID);
    expect(st2.TailscaleIPs).toEqual(st.TailscaleIPs);
    expect((await lab.headscale.nodes()).filter((n) => n.name === 'img-user')).toHaveLength(1);
    await expectNoKey(c, key);
  }, 180_000);

  for (const mode of ['iptables', 'nftables'] as const) {
    it(`kernel-mode ingress proxy (TS_DEST_IP) with NET_ADMIN and /dev/net/tun, ${mode}: a peer's request reaches the backend`, async () => {
      const pod = await lab.addNode(`ing-${mode.slice(0, 3)}`, { lan: true, cluster: true });
      // What `--sysctl net.ipv4.ip_forward=1` does for a container with its own network namespace;
      // this one shares the lab namespace, whose sysctls podman leaves read-only in the container.
      await lab.exec(pod, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      const key = await lab.createKey();
      const host = `img-ingress-${mode}`;
      const c = await runContainer({
        image, node: pod,
        env: { ...labContainerEnv(), TS_AUTHKEY: key, TS_HOSTNAME: host, TS_USERSPACE: 'false', TS_DEST_IP: cluster.clusterIP!, TS_DEBUG_FIREWALL_MODE: mode },
        flags: ['--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', '--device', '/dev/net/tun'],
      });
      const st = await c.waitRunning();
      const ip = st.TailscaleIPs.find((a: string) => !a.includes(':'));
      await laptop.waitForPeer(host);
      const res = await waitFor(`GET http://${ip}:8080/ from laptop`, async () => {
        const x = await lab.curl(laptop.node, `http://${ip}:8080/ingress`, 3);
        return x.status === 200 ? x : undefined;
      }, 30_000, 300);
      expect(res.body).toContain('hello from cluster-backend');
      const rules = mode === 'nftables' ? await lab.exec(pod, ['nft', 'list', 'ruleset']) : await lab.exec(pod, ['iptables-legacy-save', '-t', 'nat']);
      expect(rules.stdout).toContain(cluster.clusterIP!);
      const stop = await podman(['stop', '-t', '20', c.name], 60_000);
      expect(stop.code, stop.stderr).toBe(0);
      expect(await c.waitExited()).toBe(0);
      await expectNoKey(c, key);
    }, 180_000);
  }

  it('podman stop: SIGTERM → exit 0 within the grace period; the ephemeral node is gone from headscale', async () => {
    const pod = await lab.addNode('eph', { lan: true });
    const key = await lab.createKey({ ephemeral: true });
    const c = await runContainer({ image, node: pod, env: { ...labContainerEnv(), TS_AUTHKEY: key, TS_HOSTNAME: 'img-ephemeral' } });
    await c.waitRunning();
    expect((await lab.headscale.nodes()).some((n) => n.name === 'img-ephemeral')).toBe(true);
    const t0 = Date.now();
    const stop = await podman(['stop', '-t', '20', c.name], 60_000);
    expect(stop.code, stop.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await c.waitExited()).toBe(0);
    await waitFor('img-ephemeral gone from headscale', async () => !(await lab.headscale.nodes()).some((n) => n.name === 'img-ephemeral'), 10_000);
    await expectNoKey(c, key);
  }, 120_000);

  it('tailscaled killed inside → the container exits non-zero, so --restart on-failure restarts it', async () => {
    const pod = await lab.addNode('kill', { lan: true });
    const key = await lab.createKey({ reusable: true });
    const env = { ...labContainerEnv(), TS_AUTHKEY: key, TS_HOSTNAME: 'img-kill' };
    // 255: podman could not collect the exec's status because the container stopped under it,
    // which containerboot does promptly once tailscaled is gone (seen once in a full-suite run);
    // what follows checks the effect either way.
    const kill = async (c: Container) => {
      const r = await c.exec(['sh', '-c', 'kill -9 $(pidof tailscaled)']);
      return { ...r, code: r.code === 255 ? 0 : r.code };
    };

    const c = await runContainer({ image, node: pod, env });
    await c.waitRunning();
    expect((await kill(c)).code).toBe(0);
    const code = await c.waitExited();
    expect(code).not.toBe(0);
    await c.remove();

    const r = await runContainer({ image, node: pod, env, flags: ['--restart', 'on-failure'] });
    await r.waitRunning();
    expect((await kill(r)).code).toBe(0);
    await waitFor('podman restarts the container', async () => Number(await r.inspect('{{.RestartCount}}')) >= 1, 30_000, 300);
    await r.waitRunning();
    await expectNoKey(r, key);
  }, 180_000);

  it('Docker-secrets style: TS_AUTHKEY_FILE=/run/secrets/authkey from `podman run --secret` logs in; the key is in no log or env', async () => {
    const pod = await lab.addNode('secret', { lan: true });
    const key = await lab.createKey();
    const file = path.join(pod.dir, 'authkey');
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600 }); // as `echo "$KEY" > file` writes it
    const secret = `cbimg-authkey-${process.pid}`;
    const created = await podman(['secret', 'create', secret, file]);
    expect(created.code, created.stderr).toBe(0);
    try {
      const c = await runContainer({
        image, node: pod,
        env: { ...labContainerEnv(), TS_AUTHKEY_FILE: '/run/secrets/authkey', TS_HOSTNAME: 'img-secret' },
        flags: ['--secret', `${secret},type=mount,target=authkey`],
      });
      const st = await c.waitRunning();
      expect(st.Self.HostName).toBe('img-secret');
      expect((await lab.headscale.nodes()).filter((n) => n.name === 'img-secret')).toHaveLength(1);
      expect((await c.exec(['cat', '/run/secrets/authkey'])).stdout.trim()).toBe(key);
      expect(await c.inspect('{{json .Config.Env}}')).not.toContain(key);
      await expectNoKey(c, key);
    } finally {
      await podman(['secret', 'rm', secret]);
    }
  }, 120_000);

  it('non-root user and a read-only root file system, state on a volume (userspace)', async () => {
    const pod = await lab.addNode('ro', { lan: true });
    const key = await lab.createKey();
    const c = await runContainer({
      image, node: pod,
      env: { ...labContainerEnv(), TS_AUTHKEY: key, TS_HOSTNAME: 'img-readonly', TS_STATE_DIR: '/var/lib/tailscale' },
      flags: ['--user', '1000:1000', '--read-only', '-v', `${stateDir(pod, 'state', 1000)}:/var/lib/tailscale`],
    });
    await c.waitRunning();
    const ls = await c.exec(['sh', '-c', 'id -u; ls -n /var/lib/tailscale']);
    expect(ls.stdout).toMatch(/^1000\n/);
    expect(ls.stdout).toMatch(/ 1000 +1000 .* tailscaled\.state$/m);
    const hc = await podman(['healthcheck', 'run', c.name]);
    expect(hc.code, hc.stdout + hc.stderr).toBe(0);
    await expectNoKey(c, key);
  }, 120_000);
});
