// Chaos: containerboot's firewall process SIGKILLed in the middle of an iptables-restore or a
// libnftables batch, at a seeded random point after the batch starts. The next start (a fresh
// engine process in the same network namespace, as after a container restart in one pod) must
// converge to exactly what an uninterrupted run leaves: no rule duplicated, none lost, none stale.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyRule } from '../../src/firewall/types.js';
import { BACKENDS, dumpRules, engineMode, Lab, NODE, requireTools, runnerScript, toolsFor, type BackendName } from '../firewall/helpers/netns.js';
import type { RunnerInput } from '../firewall/helpers/runner.js';
import { chaosSeeds, chaosTimeout, preciseDelay, rng } from './seeds.js';

const CI_SEEDS = 3;

// Before: what a previous containerboot left (ingress DNAT, two egress services). After: the
// desired state of this start (one service gone, one changed, a new one with many ports).
const portmaps = (svc: string, n: number, target: string, fam: 4 | 6): ProxyRule[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'portmap', family: fam, svc, proto: i % 2 ? 'udp' : 'tcp', matchPort: 4000 + i, targetIP: target, targetPort: 80 + i }));
const BEFORE: Record<string, ProxyRule[]> = {
  ingress: [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '192.0.2.2' }, { kind: 'clamp-mss', family: 4 }],
  'egress-svc:a': [...portmaps('a', 10, '100.64.0.2', 4), { kind: 'snat', family: 4, dst: '100.64.0.2', src: '100.64.0.1' }],
  'egress-svc:b': [...portmaps('b', 5, 'fd7a:115c:a1e0::2', 6), { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::2', src: 'fd7a:115c:a1e0::1' }],
};
const AFTER: Record<string, ProxyRule[]> = {
  ingress: [{ kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: ['192.0.2.2', '192.0.2.3'] }, { kind: 'clamp-mss', family: 4 }],
  'egress-svc:a': [],
  'egress-svc:b': [...portmaps('b', 8, 'fd7a:115c:a1e0::3', 6), { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::3', src: 'fd7a:115c:a1e0::1' }],
  'egress-svc:c': [...portmaps('c', 60, '100.64.0.7', 4), { kind: 'snat', family: 4, dst: '100.64.0.7', src: '100.64.0.1' }],
};

/** Starts the engine on `input` and SIGKILLs it `delayMs` after it marks the start of its batch. */
async function killMidBatch(ns: string, input: RunnerInput, delayMs: number): Promise<'killed' | 'finished'> {
  const script = await runnerScript();
  const c = spawn('ip', ['netns', 'exec', ns, 'env', `CBFW_NETNS=${ns}`, 'CBFW_MARK=1', NODE, script, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  await new Promise<void>((resolve) => {
    c.stderr!.on('data', (b: Buffer) => { if (b.toString().includes('CBFW-APPLY')) resolve(); });
    void exited.then(() => resolve());
  });
  await preciseDelay(delayMs);
  const alive = c.exitCode === null;
  if (alive) c.kill('SIGKILL');
  await exited;
  return alive ? 'killed' : 'finished';
}

function duplicates(dump: string): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  let table = '';
  for (const l of dump.split('\n')) {
    if (/^(\*|table )/.test(l.trim())) table = l.trim();
    const t = l.trim();
    if (!/^-A |^(ip6? )?(saddr|daddr|iifname|oifname|meta|tcp|udp|counter|dnat|snat|masquerade)/.test(t)) continue;
    const k = `${table} ${t}`;
    if (seen.has(k)) dup.push(k); else seen.add(k);
  }
  return dup;
}

describe.each(BACKENDS)('chaos: SIGKILL mid-batch with the %s backend', (backend: BackendName) => {
  const lab = new Lab();
  const mode = engineMode(backend);
  let reference = '';
  let previous = '';
  let batchMs = 0;

  beforeAll(async () => {
    await requireTools(toolsFor(backend));
    // The uninterrupted run: before-state, then the desired state, each a fresh process.
    const ns = await lab.netns('ref');
    expect((await lab.runEngine(ns, { ...mode, steps: [{ groups: BEFORE }] })).ok).toBe(true);
    previous = await dumpRules(lab, ns, backend);
    const r = await lab.runEngine(ns, { ...mode, steps: [{ groups: AFTER }] });
    expect(r.ok, r.error).toBe(true);
    batchMs = r.ms[0];
    reference = await dumpRules(lab, ns, backend);
    expect(duplicates(reference)).toEqual([]);
    // The batch time sets the kill points: take the fastest of three runs, so that on a loaded
    // machine one slow reference run does not push most kill points past the end of the batch.
    for (let i = 0; i < 2; i++) {
      expect((await lab.runEngine(ns, { ...mode, steps: [{ groups: BEFORE }] })).ok).toBe(true);
      const again = await lab.runEngine(ns, { ...mode, steps: [{ groups: AFTER }] });
      expect(again.ok, again.error).toBe(true);
      batchMs = Math.min(batchMs, again.ms[0]);
    }
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  it('the next start converges to exactly the uninterrupted result', async () => {
    const outcomes: string[] = [];
    for (const seed of chaosSeeds(CI_SEEDS)) {
      const rand = rng(seed * 7919 + backend.length);
      const ns = await lab.netns(`k${seed}`);
      expect((await lab.runEngine(ns, { ...mode, steps: [{ groups: BEFORE }] })).ok).toBe(true);
      // A point inside the batch (and a little past it: a kill right after the last write).
      const delay = rand() * batchMs * 1.1;
      const how = await killMidBatch(ns, { ...mode, steps: [{ groups: AFTER }] }, delay);
      const mid = await dumpRules(lab, ns, backend);
      expect(duplicates(mid), `seed ${seed}: duplicates right after the kill`).toEqual([]);
      const next = await lab.runEngine(ns, { ...mode, steps: [{ groups: AFTER }] });
      expect(next.ok, `seed ${seed}: ${next.error}`).toBe(true);
      const after = await dumpRules(lab, ns, backend);
      expect(after, `seed ${seed} (${how} at ${delay.toFixed(2)} of ${batchMs.toFixed(2)} ms)`).toBe(reference);
      outcomes.push(`seed ${seed}: ${how} at ${delay.toFixed(2)}/${batchMs.toFixed(2)} ms, ${mid === reference ? 'batch complete' : mid === previous ? 'old state intact' : 'partial (between batches)'} → converged`);
    }
    const killed = outcomes.filter((o) => o.includes(': killed at')).length;
    console.log(`[chaos firewall ${backend}] ${killed} of ${outcomes.length} killed inside the batch window\n${outcomes.join('\n')}`);
  }, chaosTimeout(3000, CI_SEEDS));
});
