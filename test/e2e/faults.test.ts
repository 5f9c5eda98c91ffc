// Faults on the real stack: tailscaled killed with SIGKILL, bad and already-used auth keys, an
// unreachable control server at boot, and headscale going away while containerboot runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, sleep, waitFor } from '../lab/lab.js';

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.start({ name: 'faults' });
}, 60_000);
afterAll(async () => {
  await lab?.teardown();
}, 90_000);

describe('faults on the real stack', () => {
  it('(7a) kill -9 of tailscaled after startup: containerboot exits non-zero promptly', async () => {
    const pod = await lab.addNode('kill', { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: await lab.createKey(), TS_HOSTNAME: 'cb-kill' } });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    const [tsd] = cb.pidsOf('tailscaled');
    expect(tsd, 'tailscaled PID in the pod namespace').toBeGreaterThan(0);
    const t0 = Date.now();
    process.kill(tsd, 'SIGKILL');
    const exit = await cb.proc.waitExit(10_000);
    // 128+SIGKILL: the death decides the exit, not the broken bus it causes first (L6, fixed).
    expect(exit.code, cb.output().slice(-2000)).toBe(137);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(cb.output()).toContain('tailscaled exited unexpectedly (signal: killed); exiting with code 137');
    expect(cb.output()).not.toContain('Logging out');
  }, 60_000);

  it('(7b) a bad auth key: clear error and non-zero exit well within TS_BOOT_TIMEOUT', async () => {
    const pod = await lab.addNode('badkey', { lan: true });
    const bad = `hskey-auth-AAAAAAAAAAAA-${'0'.repeat(64)}`;
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: bad, TS_HOSTNAME: 'cb-badkey', TS_BOOT_TIMEOUT: '30s' } });
    const exit = await cb.proc.waitExit(35_000);
    expect(exit.code).toBe(1);
    expect(exit.at - cb.execAt).toBeLessThan(30_000);
    const out = cb.output();
    expect(out).toMatch(/invalid pre auth key/);
    expect(out).toMatch(/tailscale up failed/);
    expect(out).not.toContain(bad);
    expect((await lab.headscale.nodes()).some((n) => n.name === 'cb-badkey')).toBe(false);
  }, 60_000);

  it('(7c) a single-use key that was already used: clear error and non-zero exit', async () => {
    const key = await lab.createKey({ reusable: false });
    await lab.startPeer('first', { hostname: 'key-first-user', authKey: key });
    const pod = await lab.addNode('usedkey', { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: key, TS_HOSTNAME: 'cb-usedkey', TS_BOOT_TIMEOUT: '30s' } });
    const exit = await cb.proc.waitExit(35_000);
    expect(exit.code).toBe(1);
    expect(exit.at - cb.execAt).toBeLessThan(30_000);
    // headscale v0.29.2 words it "authkey already used" or "invalid pre auth key" depending on path.
    expect(cb.output()).toMatch(/already used|invalid pre auth key|expired/i);
    expect(cb.output()).toMatch(/tailscale up failed/);
  }, 60_000);

  it('(7d) control server unreachable at boot: exits 1 when TS_BOOT_TIMEOUT ends', async () => {
    const pod = await lab.addNode('nocontrol', { lan: true });
    const probe = await lab.addNode('probe', { lan: true });
    const cb = lab.startContainerboot(pod, {
      env: {
        TS_AUTHKEY: await lab.createKey(),
        TS_HOSTNAME: 'cb-nocontrol',
        TS_BOOT_TIMEOUT: '6s',
        TS_LOGIN_SERVER: 'http://10.231.7.1:9',
        TS_ENABLE_HEALTH_CHECK: 'true',
        TS_LOCAL_ADDR_PORT: `${pod.lanIP}:9002`,
      },
    });
    // While it cannot log in, /healthz answers 503 (no tailnet IPs yet).
    const health = await waitFor('/healthz answering', async () => {
      const r = await lab.curl(probe, `http://${pod.lanIP}:9002/healthz`, 1);
      return r.status !== 0 ? r : undefined;
    }, 5000, 100);
    expect(health.status).toBe(503);
    expect(health.body).toContain('node currently has no tailscale IPs');
    const exit = await cb.proc.waitExit(30_000);
    expect(exit.code).toBe(1);
    const took = exit.at - cb.execAt;
    expect(took).toBeGreaterThanOrEqual(5_500);
    expect(took).toBeLessThan(20_000);
    expect(cb.output()).toMatch(/context deadline exceeded|timed out|timeout/i);
    // tailscaled was ended with it, not left behind.
    expect(cb.pidsOf('tailscaled')).toEqual([]);
  }, 60_000);

  it('(7e) headscale stopped mid-run: no crash loop; the node comes back when headscale returns', async () => {
    const pod = await lab.addNode('hsdown', { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: await lab.createKey(), TS_HOSTNAME: 'cb-hsdown' } });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    const tsdBefore = cb.pidsOf('tailscaled');
    const outBefore = cb.output().length;
    await lab.headscale.stop();
    await sleep(15_000);
    expect(cb.proc.running, cb.output().slice(outBefore).slice(-2000)).toBe(true);
    expect(cb.pidsOf('tailscaled')).toEqual(tsdBefore);
    const during = cb.output().slice(outBefore);
    expect(during).not.toMatch(/Starting tailscaled|Running 'tailscale up'/);
    await lab.headscale.start();
    await waitFor('cb-hsdown online again in headscale', async () => (await lab.headscale.nodes()).find((n) => n.name === 'cb-hsdown' && n.online), 45_000, 500);
    expect(cb.proc.running).toBe(true);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 120_000);
});
