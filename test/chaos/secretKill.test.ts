// Chaos: containerboot SIGKILLed (with its tailscaled, as when the container dies) at a seeded
// random point of a Kubernetes-mode boot, while the fake API server delays every answer, so kills
// land in the middle of Secret writes, and while "tailscaled" keeps writing its own keys. The next
// start must converge: the Secret holds exactly containerboot's keys for this pod and every
// tailscaled key with its latest value; no key written by tailscaled is ever missing.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPABILITY_VERSION } from '../../src/capver.js';
import { startFakeKubeApi, type FakeKubeApi } from '../support/fakeKubeApi.js';
import { Scenario, goRunning } from '../support/harness.js';
import { chaosSeeds, chaosTimeout, preciseDelay, rng } from './seeds.js';

const CI_SEEDS = 4;
const TS_KEYS = { _machinekey: 'mk', _profiles: '{}', '_current-profile': 'profile-a', 'profile-a': 'p0' };
const root = mkdtempSync(path.join(os.tmpdir(), 'cb-chaos-kube-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function boot(api: FakeKubeApi): Promise<Scenario> {
  const s = new Scenario({ env: { TS_USERSPACE: 'true', TS_AUTHKEY: 'tskey-chaos', POD_UID: 'uid-1', POD_NAME: 'proxy-0', ...api.env, TS_TEST_ONLY_ROOT: root } });
  s.api.cliHandler = (call, a) => { if (call.args.includes('up')) goRunning(a); return 0; };
  return s.start();
}

/** "tailscaled" writing its state keys while containerboot runs (server-side, atomic). */
function tailscaledWriter(api: FakeKubeApi): { stop(): void; last: () => string } {
  let n = 0;
  const t = setInterval(() => {
    const cur = api.secret('tailscale');
    if (!cur) return;
    for (const k of Object.keys(TS_KEYS)) if (!(k in cur)) throw new Error(`tailscaled key ${k} lost: ${JSON.stringify(cur)}`);
    api.setSecret('tailscale', { ...cur, 'profile-a': `p${++n}` });
  }, 7);
  return { stop: () => clearInterval(t), last: () => `p${n}` };
}

describe('chaos: SIGKILL in the middle of Secret writes', () => {
  it('the next start converges and no tailscaled key is lost', async () => {
    const outcomes: string[] = [];
    // How many API requests an undisturbed boot makes: the kill points are spread over them.
    let total = 0;
    {
      const api = await startFakeKubeApi({ root, latencyMs: 10, secrets: { tailscale: { ...TS_KEYS } } });
      const s = await boot(api);
      await s.waitFor(() => api.secret('tailscale')?.device_fqdn !== undefined, 'device_fqdn stored');
      total = api.requests.length;
      await s.cleanup();
      await api.close();
    }
    for (const seed of chaosSeeds(CI_SEEDS)) {
      const rand = rng(seed * 104729);
      const api = await startFakeKubeApi({ root, latencyMs: 5 + Math.floor(rand() * 40), secrets: { tailscale: { ...TS_KEYS, device_id: 'old-id', device_fqdn: 'old.ts.net.', https_endpoint: 'old', 'egress-services': '{}' } } });
      const writer = tailscaledWriter(api);
      const scns: Scenario[] = [];
      try {
        const first = await boot(api);
        scns.push(first);
        // Kill while request k (of an undisturbed boot's `total`) is on its way or being answered.
        const k = 1 + Math.floor(rand() * total);
        const t0 = Date.now();
        while (api.requests.length < k && Date.now() - t0 < 10_000) await preciseDelay(0.2);
        await preciseDelay(rand() * api.state.latencyMs * 1.2);
        first.signal('SIGKILL');
        const req = api.requests[k - 1];
        const point = req ? `${req.method} ${req.path.replace(/^.*\//, '')} ${req.status === 0 ? 'in flight' : `answered ${req.status}`}` : 'boot finished';
        await first.waitExit();
        const daemon = first.daemonPid();
        if (daemon) try { process.kill(daemon, 'SIGKILL'); } catch { /* gone */ }

        const second = await boot(api);
        scns.push(second);
        await second.waitLog('Startup complete, waiting for shutdown signal');
        await second.waitFor(() => api.secret('tailscale')?.device_fqdn === 'test-node.test.ts.net.', 'device_fqdn stored');
        writer.stop();
        await new Promise((r) => setTimeout(r, 50));
        const got = api.secret('tailscale')!;
        expect(got, `seed ${seed}`).toEqual({
          ...TS_KEYS, 'profile-a': writer.last(), tailscale_capver: String(CAPABILITY_VERSION), pod_uid: 'uid-1',
          device_id: 'nSelf1CNTRL', device_fqdn: 'test-node.test.ts.net.', device_ips: '["100.64.0.1"]',
        });
        second.signal('SIGTERM');
        expect((await second.waitExit()).code).toBe(0);
        outcomes.push(`seed ${seed}: killed at request ${k}/${total} (${point}; latency ${api.state.latencyMs} ms) → converged`);
      } finally {
        writer.stop();
        for (const s of scns) await s.cleanup();
        await api.close();
      }
    }
    console.log(`[chaos secret]\n${outcomes.join('\n')}`);
  }, chaosTimeout(6000, CI_SEEDS));
});
