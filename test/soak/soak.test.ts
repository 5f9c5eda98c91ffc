// CI's bounded soak: one minute of the churn that `bash bench/run.sh soak` runs for 20 (see
// soakRun.ts). The ruleset and the Secret status must be the desired ones at every sample, fd and
// child counts flat, and the proxies alive; a minute is too short for the 1 MiB/10 min RSS
// criterion, so only gross growth fails here (the long run decides; docs/RELIABILITY.md).
import { describe, expect, it } from 'vitest';
import { runSoak } from './soakRun.js';

describe('soak (1 minute, real lab)', () => {
  it('kernel-mode and HA egress proxies under churn keep the desired state with flat resources', async () => {
    const r = await runSoak({ minutes: 1, log: (s) => console.log(s) });
    console.log(`steps: ${JSON.stringify(r.steps)}\n${r.verdict.lines.join('\n')}`);
    expect(r.samples.length).toBeGreaterThanOrEqual(5);
    expect(r.steps.churn).toBeGreaterThan(30);
    expect(r.steps.configWrites).toBeGreaterThan(15);
    expect(r.steps.targetMoves).toBeGreaterThanOrEqual(4);
    for (const s of r.samples) expect(s.problems, `t=${s.t}s`).toEqual([]);
    expect(r.verdict.ok, r.verdict.lines.join('\n')).toBe(true);
  }, 240_000);
});
