// Chaos on the real stack (tailscaled v1.102.3 + headscale in namespaces): tailscaled SIGKILLed at
// a seeded random point of boot and of the run loop of a kernel-mode egress proxy (nftables).
// containerboot must exit non-zero, must not kill anything it did not start (a sentinel server
// in the same pod namespace and the lab's other processes stay up), and a fresh start in the same
// network namespace must converge to exactly the ruleset of an undisturbed start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type LabNode, type Peer } from '../lab/lab.js';
import type { LabProcess } from '../lab/proc.js';
import { chaosSeeds, chaosTimeout, preciseDelay, rng } from './seeds.js';

const CI_SEEDS = 1;
let lab: Lab;
let pod: LabNode;
let sentinel: LabProcess;
let target: Peer;
let env: Record<string, string>;
let reference = '';
let bootMs = 0;

/** The pod's kernel ruleset with traffic counters removed. */
async function ruleset(node: LabNode): Promise<string> {
  const r = await lab.exec(node, ['nft', 'list', 'ruleset']);
  return r.stdout.replace(/counter packets \d+ bytes \d+/g, 'counter');
}

/** containerboot's own tables (`ip containerboot`, `ip6 containerboot`); tailscaled's are its business. */
function ownTables(text: string): string {
  return text.split(/^(?=table )/m).filter((t) => /^table ip6? containerboot /.test(t)).join('');
}

function duplicateRules(text: string): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  let chain = '';
  for (const l of text.split('\n').map((x) => x.trim())) {
    if (l.startsWith('chain ') || l.startsWith('table ')) { chain += `|${l}`; continue; }
    if (l === '' || l === '}' || l.startsWith('type ') || l.startsWith('policy')) continue;
    const k = `${chain} ${l}`;
    if (seen.has(k)) dup.push(l); else seen.add(k);
  }
  return dup;
}

beforeAll(async () => {
  lab = await Lab.start({ name: 'chaos-tsd' });
  target = await lab.startPeer('target', { hostname: 'chaos-target' });
  pod = await lab.addNode('pod', { lan: true, cluster: true });
  sentinel = await lab.startWebServer(pod, 'sentinel', 8081);
  env = {
    TS_AUTHKEY: await lab.createKey({ reusable: true }), TS_HOSTNAME: 'cb-chaos', TS_USERSPACE: 'false',
    TS_TAILNET_TARGET_IP: await target.ip4(), TS_DEBUG_FIREWALL_MODE: 'nftables', TS_STATE_DIR: `${pod.dir}/state`,
  };
  // The undisturbed start: its ruleset is what every recovery must reach.
  const cb = lab.startContainerboot(pod, { env, name: 'cb-reference' });
  await cb.waitStartupComplete(45_000);
  reference = await ruleset(pod);
  expect(duplicateRules(reference)).toEqual([]);
  expect(ownTables(reference)).toContain(`dnat to ${env.TS_TAILNET_TARGET_IP}`);
  await cb.stop();
  // The boot window the kills are spread over: tailscaled appearing → "Startup complete" for a
  // start like the killed ones (state already in TS_STATE_DIR, so no fresh login). The first
  // start's exec → Startup complete (≈ 2.4 s with the login) put 15 of 20 boot kills after startup.
  const warm = lab.startContainerboot(pod, { env, name: 'cb-reference-warm' });
  const w0 = Date.now();
  while (warm.pidsOf('tailscaled').length === 0) {
    if (!warm.proc.running || Date.now() - w0 > 20_000) throw new Error(`tailscaled never started\n${warm.output().slice(-2000)}`);
    await preciseDelay(1);
  }
  const tailscaledAt = Date.now();
  await warm.waitStartupComplete(45_000);
  bootMs = Date.now() - tailscaledAt;
  expect(ownTables(await ruleset(pod)), 'a second undisturbed start reaches the same rules').toBe(ownTables(reference));
  await warm.stop();
}, 120_000);
afterAll(async () => { await lab?.teardown(); }, 90_000);

async function killAndRecover(seed: number, phase: 'boot' | 'run'): Promise<string> {
  const rand = rng(seed * 31337 + (phase === 'boot' ? 1 : 2));
  const cb = lab.startContainerboot(pod, { env, name: `cb-${phase}-${seed}` });
  let point = '';
  if (phase === 'boot') {
    const t0 = Date.now();
    while (cb.pidsOf('tailscaled').length === 0) {
      if (!cb.proc.running || Date.now() - t0 > 20_000) throw new Error(`seed ${seed}: tailscaled never started\n${cb.output().slice(-2000)}`);
      await preciseDelay(1);
    }
    const d = rand() * bootMs;
    await preciseDelay(d);
    point = `${d.toFixed(0)} ms after tailscaled started (boot ≈ ${bootMs} ms)`;
  } else {
    await cb.waitStartupComplete(45_000);
    const d = rand() * 3000;
    await preciseDelay(d);
    point = `${d.toFixed(0)} ms into the run loop`;
  }
  const pids = cb.pidsOf('tailscaled');
  for (const p of pids) process.kill(p, 'SIGKILL');
  const exit = await cb.proc.waitExit(15_000);
  const out = cb.output();
  const startedAt = /Startup complete/.test(out) ? 'after startup' : 'during boot';
  expect(exit.code, `seed ${seed} ${phase}: ${out.slice(-1500)}`).not.toBe(0);
  expect(out).toMatch(/tailscaled exited unexpectedly/);
  expect(out).not.toMatch(/\n\s+at |unexpected error/);
  // Nothing it did not start: the sentinel in its namespace and the rest of the lab live on.
  expect(sentinel.running, 'sentinel in the pod namespace still running').toBe(true);
  expect(target.proc.running, 'lab peer still running').toBe(true);
  expect((await lab.curl(pod, 'http://127.0.0.1:8081/')).status).toBe(200);

  const fresh = lab.startContainerboot(pod, { env, name: `cb-fresh-${phase}-${seed}` });
  await fresh.waitStartupComplete(45_000);
  const rules = await ruleset(pod);
  expect(duplicateRules(rules), `seed ${seed} ${phase}: duplicated rules`).toEqual([]);
  expect(ownTables(rules), `seed ${seed} ${phase}: containerboot's rules after recovery`).toBe(ownTables(reference));
  const whole = rules === reference ? 'whole ruleset equal too' : 'tailscaled\'s own chains differ';
  await fresh.stop();
  expect(fresh.proc.exitInfo?.code).toBe(0);
  return `seed ${seed} ${phase}: killed ${point} (${startedAt}) → exit ${exit.code}; fresh start converged (${whole})`;
}

describe('chaos: SIGKILL of tailscaled (real stack, kernel-mode egress proxy)', () => {
  it('at random points of boot and of the run loop: non-zero exit, nothing else killed, recovery converges', async () => {
    const outcomes: string[] = [];
    for (const seed of chaosSeeds(CI_SEEDS)) {
      outcomes.push(await killAndRecover(seed, 'boot'));
      outcomes.push(await killAndRecover(seed, 'run'));
    }
    console.log(`[chaos tailscaled]\n${outcomes.join('\n')}`);
  }, chaosTimeout(40_000, CI_SEEDS));
});
