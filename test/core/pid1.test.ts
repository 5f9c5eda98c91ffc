// PID-1 duties, in a real PID namespace (unshare --pid --fork): orphan zombies are reaped,
// while our own children's exit statuses (tailscale up/set, tailscaled) stay intact (#11893).
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';
import { parseProcStat } from '../../src/proc/reaper.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

const WRAP = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc'];

/** Host-side PIDs of zombie children of `ppid`. */
function zombiesOf(ppid: number): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const st = parseProcStat(readFileSync(`/proc/${n}/stat`, 'utf8'));
      if (st?.state === 'Z' && st.ppid === ppid) out.push(Number(n));
    } catch { /* gone */ }
  }
  return out;
}

/** Host PID of a process known by its PID inside the namespace (NSpid's last field). */
function hostPidOf(nsPid: number, under: number): number {
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const m = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${n}/status`, 'utf8'));
      const ids = m?.[1].trim().split(/\s+/).map(Number) ?? [];
      if (ids.length > 1 && ids[ids.length - 1] === nsPid && ids[0] !== under) return Number(n);
    } catch { /* gone */ }
  }
  throw new Error(`no host process for namespace PID ${nsPid}`);
}

/** Host PID of containerboot: the child of the unshare process. */
function containerbootHostPid(unsharePid: number): number {
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      if (parseProcStat(readFileSync(`/proc/${n}/stat`, 'utf8'))?.ppid === unsharePid) return Number(n);
    } catch { /* gone */ }
  }
  throw new Error('containerboot process not found under unshare');
}

describe('containerboot as PID 1', () => {
  it('reaps orphaned zombies re-parented to it', async () => {
    scn = new Scenario({ wrap: WRAP, env: { TS_AUTHKEY: 'k', FAKE_TAILSCALED_ORPHANS: '3' } });
    const s = await scn.start();
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    const cb = containerbootHostPid(s.proc.pid!);
    // The orphans exit 0.3 s after start; give the reaper a moment after that.
    await new Promise((r) => setTimeout(r, 1200));
    expect(zombiesOf(cb)).toEqual([]);
    process.kill(cb, 'SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
  });

  it('keeps exit statuses of its own children: a failing `tailscale up` is reported as exit status 1', async () => {
    scn = new Scenario({ wrap: WRAP, env: { TS_AUTHKEY: 'k', FAKE_TAILSCALED_ORPHANS: '2' } });
    const s = await scn.start();
    s.api.cliHandler = async () => { await new Promise((r) => setTimeout(r, 600)); return 1; };
    expect((await s.waitExit()).code).toBe(1);
    expect(s.messages().at(-1)).toBe('failed to auth tailscale: failed to auth tailscale: tailscale up failed: exit status 1');
  });

  it.each([
    ['SIGTERM', 0],
    ['SIGINT', 0],
  ] as const)('%s after startup exits %i and stops tailscaled', async (sig, want) => {
    scn = new Scenario({ wrap: WRAP, env: { TS_AUTHKEY: 'k' } });
    const s = await scn.start();
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    // Signal containerboot itself (PID 1 in the namespace), not the unshare wrapper.
    process.kill(containerbootHostPid(s.proc.pid!), sig);
    expect((await s.waitExit()).code).toBe(want);
    expect(s.invocations().some((i) => i.event === 'SIGTERM')).toBe(true);
  });

  it.each([3, 42])('propagates tailscaled exit code %i', async (code) => {
    scn = new Scenario({ wrap: WRAP, env: { TS_AUTHKEY: 'k', FAKE_TAILSCALED_USR1_EXIT: String(code) } });
    const s = await scn.start();
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    process.kill(hostPidOf(s.daemonPid()!, s.proc.pid!), 'SIGUSR1');
    expect((await s.waitExit()).code).toBe(code);
  });
});
