// containerboot (bin/containerboot) against real tailscaled v1.102.3 + headscale v0.29.2, userspace
// networking: login, /healthz, /metrics, set-only flags routed to `tailscale set`, persistence with
// TS_STATE_DIR, and ephemeral logout on SIGTERM.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_SERVER, Lab, type LabNode, waitFor } from '../lab/lab.js';
import { TAILSCALE, TOOLS_BIN } from '../lab/tools.js';

let lab: Lab;
let probe: LabNode;

/** A `tailscale` wrapper first on PATH that records every argv (keys redacted), then runs the real CLI. */
function cliRecorder(pod: LabNode): { argvLog: string; PATH: string; calls: () => string[] } {
  const binDir = path.join(pod.dir, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  const argvLog = path.join(pod.dir, 'tailscale-argv.log');
  fs.writeFileSync(
    path.join(binDir, 'tailscale'),
    `#!/bin/sh\nprintf '%s\\n' "$*" | sed -e 's/--authkey=[^ ]*/--authkey=<authkey>/' -e 's/--auth-key=[^ ]*/--auth-key=<authkey>/' >> ${argvLog}\nexec ${TAILSCALE} "$@"\n`,
    { mode: 0o755 },
  );
  const calls = () => (fs.existsSync(argvLog) ? fs.readFileSync(argvLog, 'utf8').trim().split('\n').filter(Boolean) : []);
  return { argvLog, PATH: `${binDir}:${TOOLS_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`, calls };
}
const isUp = (c: string) => / up( |$)/.test(` ${c}`);
const isSet = (c: string) => / set( |$)/.test(` ${c}`);

beforeAll(async () => {
  lab = await Lab.start({ name: 'userspace' });
  probe = await lab.addNode('probe', { lan: true });
}, 60_000);
afterAll(async () => {
  await lab?.teardown();
}, 90_000);

describe('userspace containerboot on the real stack', () => {
  it('(1) TS_AUTHKEY + --login-server reaches Running; headscale lists TS_HOSTNAME; /healthz 200; /metrics serves user metrics', async () => {
    const pod = await lab.addNode('pod1', { lan: true });
    const key = await lab.createKey({ reusable: true });
    const cb = lab.startContainerboot(pod, {
      env: {
        TS_AUTHKEY: key,
        TS_HOSTNAME: 'cb-user',
        TS_ENABLE_HEALTH_CHECK: 'true',
        TS_ENABLE_METRICS: 'true',
        TS_LOCAL_ADDR_PORT: `${pod.lanIP}:9002`,
      },
    });
    const st = await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    expect(st.Self.HostName).toBe('cb-user');
    expect(st.Self.DNSName).toBe('cb-user.lab.test.');

    const node = await waitFor('cb-user in headscale', async () => (await lab.headscale.nodes()).find((n) => n.name === 'cb-user' && n.online), 15_000);
    expect(node.ipAddresses).toContain(await cb.ip4());

    const health = await waitFor('/healthz 200', async () => {
      const r = await lab.curl(probe, `http://${pod.lanIP}:9002/healthz`);
      return r.status === 200 ? r : undefined;
    }, 15_000);
    expect(health.body.trim()).toBe('ok');

    const metrics = await lab.curl(probe, `http://${pod.lanIP}:9002/metrics`);
    expect(metrics.status).toBe(200);
    // tailscaled's user metrics (LocalAPI usermetrics), proxied verbatim.
    expect(metrics.body).toMatch(/^# TYPE tailscaled_\w+ /m);
    expect(metrics.body).toMatch(/^tailscaled_health_messages\{/m);
    expect(metrics.body).toMatch(/^tailscaled_home_derp_region_id 999$/m);
    // containerboot's own metrics are appended (COMPATIBILITY.md C10).
    expect(metrics.body).toMatch(/^containerboot_backend_state 6$/m);
    expect(metrics.body).toMatch(/^containerboot_startup_complete 1$/m);
    // The liveness/readiness endpoints next to /healthz (C9).
    expect((await lab.curl(probe, `http://${pod.lanIP}:9002/livez`)).status).toBe(200);
    expect((await lab.curl(probe, `http://${pod.lanIP}:9002/readyz`)).status).toBe(200);
    // No secret ever reaches the logs.
    expect(cb.proc.output()).not.toContain(key);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 90_000);

  it('(10) userspace ingress with TS_SERVE_CONFIG (TCP forward): a peer reaches a cluster backend; edits are re-applied', async () => {
    const cluster = await lab.addNode('cluster10', { cluster: true });
    await lab.startWebServer(cluster, 'serve-backend', 8080);
    const peer = await lab.startPeer('peer10', { hostname: 'serve-client', kernel: true });
    const pod = await lab.addNode('pod10', { lan: true, cluster: true });
    const cfgDir = path.join(pod.dir, 'serve');
    fs.mkdirSync(cfgDir);
    const cfg = path.join(cfgDir, 'serve.json');
    fs.writeFileSync(cfg, JSON.stringify({ TCP: { '80': { TCPForward: `${cluster.clusterIP}:8080` } } }));
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: await lab.createKey(), TS_HOSTNAME: 'cb-serve', TS_SERVE_CONFIG: cfg } });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    const ip = await cb.ip4();
    await peer.waitForPeer('cb-serve');
    const get = (port: number) => waitFor(`GET :${port} through serve`, async () => {
      const r = await lab.curl(peer.node, `http://${ip}:${port}/serve`, 3);
      return r.status === 200 ? r : undefined;
    }, 20_000, 300);
    expect((await get(80)).body).toContain('hello from serve-backend');
    // Userspace netstack dials the backend itself, so the backend sees the pod's cluster address.
    expect((await get(80)).body).toContain(`client=${pod.clusterIP}`);

    fs.writeFileSync(cfg, JSON.stringify({ TCP: { '81': { TCPForward: `${cluster.clusterIP}:8080` } } }));
    await waitFor('serve config with port 81 applied', async () => {
      const r = await lab.localapi(cb.socket, 'GET', 'serve-config');
      return r.status === 200 && JSON.parse(r.body)?.TCP?.['81'] !== undefined;
    }, 15_000);
    expect((await get(81)).body).toContain('hello from serve-backend');
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 120_000);

  it('(11) userspace egress through TS_SOCKS5_SERVER and TS_OUTBOUND_HTTP_PROXY_LISTEN to a MagicDNS name', async () => {
    const peer = await lab.startPeer('peer11', { hostname: 'proxy-target', kernel: true });
    await lab.startWebServer(peer.node, 'proxy-target-web', 8080);
    const pod = await lab.addNode('pod11', { lan: true });
    const cb = lab.startContainerboot(pod, {
      env: {
        TS_AUTHKEY: await lab.createKey(),
        TS_HOSTNAME: 'cb-socks',
        TS_SOCKS5_SERVER: `${pod.lanIP}:1055`,
        TS_OUTBOUND_HTTP_PROXY_LISTEN: `${pod.lanIP}:1056`,
      },
    });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    const viaSocks = await waitFor('GET through SOCKS5', async () => {
      const r = await lab.exec(probe, ['curl', '-sS', '--max-time', '3', '--socks5-hostname', `${pod.lanIP}:1055`, 'http://proxy-target.lab.test:8080/socks']);
      return r.code === 0 ? r.stdout : undefined;
    }, 20_000, 300);
    expect(viaSocks).toContain(`hello from proxy-target-web; client=${await cb.ip4()}`);
    const viaHttp = await lab.exec(probe, ['curl', '-sS', '--max-time', '5', '-x', `http://${pod.lanIP}:1056`, 'http://proxy-target.lab.test:8080/http-proxy']);
    expect(viaHttp.code, viaHttp.stderr).toBe(0);
    expect(viaHttp.stdout).toContain('path=/http-proxy');
    await cb.stop();
  }, 120_000);

  it('(8) TS_EXTRA_ARGS=--relay-server-port=40000 is applied (prefs RelayServerPort) through `tailscale set`, never `tailscale up`', async () => {
    const pod = await lab.addNode('pod8', { lan: true });
    const { argvLog, PATH } = cliRecorder(pod);
    const key = await lab.createKey({ reusable: true });
    const cb = lab.startContainerboot(pod, {
      env: {
        TS_AUTHKEY: key,
        TS_HOSTNAME: 'cb-relay',
        TS_EXTRA_ARGS: '--relay-server-port=40000',
        PATH,
      },
    });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    const prefs = await waitFor('RelayServerPort 40000 in prefs', async () => {
      const p = await cb.prefs();
      return p.RelayServerPort === 40000 ? p : undefined;
    }, 15_000);
    expect(prefs.RelayServerPort).toBe(40000);
    const calls = fs.readFileSync(argvLog, 'utf8').trim().split('\n');
    const ups = calls.filter(isUp);
    const sets = calls.filter(isSet);
    expect(ups.length, calls.join('\n')).toBeGreaterThanOrEqual(1);
    for (const u of ups) expect(u).not.toContain('relay-server-port');
    expect(sets.some((s) => s.includes('--relay-server-port=40000')), calls.join('\n')).toBe(true);
    await cb.stop();
  }, 90_000);

  it('(5) TS_STATE_DIR keeps the node identity across a restart (no auth key the second time)', async () => {
    const pod = await lab.addNode('pod5', { lan: true });
    const stateDir = path.join(pod.dir, 'state');
    fs.mkdirSync(stateDir);
    const key = await lab.createKey({ reusable: false });
    const first = lab.startContainerboot(pod, { env: { TS_AUTHKEY: key, TS_HOSTNAME: 'cb-persist', TS_STATE_DIR: stateDir }, name: 'containerboot-persist-1' });
    const s1 = await first.waitRunning();
    await first.waitStartupComplete(20_000);
    await first.stop();
    expect(first.proc.exitInfo?.code).toBe(0);
    expect(fs.readdirSync(stateDir)).toContain('tailscaled.state');

    // Same state dir, and the single-use key is spent: only the stored identity can log in.
    const second = lab.startContainerboot(pod, { env: { TS_AUTHKEY: key, TS_HOSTNAME: 'cb-persist', TS_STATE_DIR: stateDir }, name: 'containerboot-persist-2' });
    const s2 = await second.waitRunning();
    await second.waitStartupComplete(20_000);
    expect(s2.Self.PublicKey).toBe(s1.Self.PublicKey);
    expect(s2.Self.ID).toBe(s1.Self.ID);
    expect(s2.TailscaleIPs).toEqual(s1.TailscaleIPs);
    const nodes = (await lab.headscale.nodes()).filter((n) => n.name.startsWith('cb-persist'));
    expect(nodes).toHaveLength(1);
    await second.stop();
  }, 120_000);

  it('(5b) TS_AUTH_ONCE=true + TS_STATE_DIR: `up` then `set` on first boot; after a restart only `set`', async () => {
    const pod = await lab.addNode('pod5b', { lan: true });
    const stateDir = path.join(pod.dir, 'state');
    fs.mkdirSync(stateDir);
    const rec = cliRecorder(pod);
    const env = { TS_AUTHKEY: await lab.createKey(), TS_HOSTNAME: 'cb-authonce', TS_STATE_DIR: stateDir, TS_AUTH_ONCE: 'true', PATH: rec.PATH };
    const first = lab.startContainerboot(pod, { env, name: 'containerboot-authonce-1' });
    const s1 = await first.waitRunning();
    await first.waitStartupComplete(20_000);
    await first.stop();
    const boot1 = rec.calls();
    expect(boot1.filter(isUp), boot1.join('\n')).toHaveLength(1);
    expect(boot1.filter(isSet), boot1.join('\n')).toHaveLength(1);
    expect(boot1.findIndex(isUp)).toBeLessThan(boot1.findIndex(isSet));
    fs.rmSync(rec.argvLog);

    const second = lab.startContainerboot(pod, { env, name: 'containerboot-authonce-2' });
    const s2 = await second.waitRunning();
    await second.waitStartupComplete(20_000);
    expect(s2.Self.PublicKey).toBe(s1.Self.PublicKey);
    const boot2 = rec.calls();
    expect(boot2.filter(isUp), boot2.join('\n')).toHaveLength(0);
    expect(boot2.filter(isSet), boot2.join('\n')).toHaveLength(1);
    expect(boot2[0]).toContain('--hostname=cb-authonce');
    await second.stop();
  }, 120_000);

  it('(14) one-step mode TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: tailscaled logs in from cap-N.hujson; a kubelet-style ..data swap is reloaded', async () => {
    const pod = await lab.addNode('pod14', { lan: true });
    const dir = path.join(pod.dir, 'tsconfig');
    fs.mkdirSync(dir);
    const key = await lab.createKey();
    // The kubelet's Secret-volume layout: ..<version>/ holds the files, ..data points at it, and
    // each visible name is a symlink through ..data; updates swap ..data atomically.
    const publish = (version: string, hostname: string) => {
      const d = path.join(dir, `..${version}`);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'cap-100.hujson'), `{\n  // HuJSON, as the operator writes it (${version})\n  "Version": "alpha0",\n  "AuthKey": "${key}",\n  "ServerURL": "${LOGIN_SERVER}",\n  "Hostname": "${hostname}",\n  "AcceptDNS": false,\n}\n`);
      fs.symlinkSync(`..${version}`, path.join(dir, '..data_tmp'));
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    };
    publish('v1', 'cb-onestep');
    fs.symlinkSync('..data/cap-100.hujson', path.join(dir, 'cap-100.hujson'));
    // Validation forbids TS_EXTRA_ARGS/TS_HOSTNAME/TS_AUTHKEY/TS_LOGIN_SERVER in this mode: the file has it all.
    const cb = lab.startContainerboot(pod, { env: { TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: dir }, noLoginServer: true });
    const st = await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    expect(st.Self.HostName).toBe('cb-onestep');
    expect(cb.output()).toMatch(/Using tailscaled config file ".*cap-100\.hujson"/);
    expect(cb.output()).not.toMatch(/Running 'tailscale (up|set)'/);

    const mark = cb.proc.output().length;
    expect(cb.output()).not.toMatch(/config was reloaded/);
    // The config watcher is armed asynchronously after Running (upstream starts it in a goroutine
    // too), so a swap right at "Startup complete" can precede it and be folded into its baseline
    // (COMPATIBILITY.md L13). Like the kubelet on a later Secret update, publish again until the
    // reload shows.
    for (let attempt = 2; ; attempt++) {
      publish(`v${attempt}`, 'cb-onestep2');
      try {
        await cb.proc.waitForOutput(/tailscaled config watch: config was reloaded/, 4000, mark);
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
      }
    }
    await waitFor('hostname from the new config', async () => ((await cb.status()).Self.HostName === 'cb-onestep2' ? true : undefined), 15_000);
    await waitFor('headscale sees the new name', async () => (await lab.headscale.nodes()).some((n) => n.name === 'cb-onestep2'), 15_000);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 120_000);

  it('(6) ephemeral key + in-memory state: SIGTERM removes the node from headscale within seconds and exits 0', async () => {
    const pod = await lab.addNode('pod6', { lan: true });
    const key = await lab.createKey({ ephemeral: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: key, TS_HOSTNAME: 'cb-ephemeral' } });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    expect((await lab.headscale.nodes()).some((n) => n.name === 'cb-ephemeral')).toBe(true);
    const t0 = Date.now();
    cb.proc.signal('SIGTERM');
    const exit = await cb.proc.waitExit(30_000);
    expect(exit.code, cb.output().slice(-3000)).toBe(0);
    await waitFor('cb-ephemeral gone from headscale', async () => !(await lab.headscale.nodes()).some((n) => n.name === 'cb-ephemeral'), 10_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 90_000);
});
