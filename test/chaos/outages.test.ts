// Chaos on the real stack: the control server gone (headscale stopped) for CHAOS_OUTAGE_S seconds
// (30 in the full run, 10 in CI), and the disk under TS_STATE_DIR read-only or full. Each fault
// must give a clear log line, no busy loop (containerboot's CPU time and log volume during the
// fault are measured), and recovery once the fault ends.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, sleep, waitFor, type Containerboot } from '../lab/lab.js';

const OUTAGE_S = Number(process.env.CHAOS_OUTAGE_S ?? 10);
let lab: Lab;
const mounts: string[] = [];
beforeAll(async () => { lab = await Lab.start({ name: 'chaos-outage' }); }, 60_000);
afterAll(async () => {
  for (const m of mounts.reverse()) try { execFileSync('umount', [m]); } catch { /* already gone */ }
  await lab?.teardown();
}, 90_000);

/** CPU seconds (user + system) used so far by `pid` and its live children. */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(v[11]) + Number(v[12])) / 100;
}

function mountTmpfs(dir: string, opts: string): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'cbl-chaos', dir]);
  mounts.push(dir);
}

function umount(dir: string): void {
  execFileSync('umount', [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

const boots: string[] = [];
function record(cb: Containerboot, from: number): { lines: number; cpu: number } {
  return { lines: cb.output().slice(from).split('\n').filter(Boolean).length, cpu: cpuSeconds(cb.pid) };
}

describe('chaos: outages on the real stack', () => {
  it(`control server gone for ${OUTAGE_S} s: no busy loop, still running, recovers`, async () => {
    const pod = await lab.addNode('ctl', { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: await lab.createKey({ reusable: true }), TS_HOSTNAME: 'cb-ctl', TS_STATE_DIR: `${pod.dir}/state` } });
    await cb.waitStartupComplete(45_000);
    await lab.headscale.stop();
    const mark = cb.output().length;
    const cpu0 = cpuSeconds(cb.pid);
    await sleep(OUTAGE_S * 1000);
    const during = record(cb, mark);
    const cpu = during.cpu - cpu0;
    const outageLog = cb.output().slice(mark);
    await lab.headscale.start();
    expect(cb.proc.running, cb.output().slice(-1500)).toBe(true);
    // Recovery: a node that joins after the outage shows up in containerboot's netmap.
    await lab.startPeer('late', { hostname: 'late-peer' });
    await waitFor('late-peer in containerboot\'s netmap', async () => {
      const s = await cb.status();
      return Object.values((s.Peer ?? {}) as Record<string, { HostName: string }>).some((p) => p.HostName === 'late-peer') ? true : undefined;
    }, 60_000, 500);
    boots.push(`control gone ${OUTAGE_S} s: containerboot CPU ${cpu.toFixed(2)} s, ${during.lines} output lines (tailscaled's included), recovered`);
    console.log(`[chaos outage] ${boots.at(-1)}\n  lines during the outage:\n  ${outageLog.split('\n').filter(Boolean).slice(0, 12).join('\n  ')}`);
    expect(cpu, 'CPU seconds during the outage').toBeLessThan(0.05 * OUTAGE_S + 0.5);
    expect(during.lines, 'output lines during the outage').toBeLessThan(20 * OUTAGE_S);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 60_000 + OUTAGE_S * 1000 * 2);

  for (const fault of ['read-only', 'full'] as const) {
    it(`state dir ${fault}: a clear line, no busy loop, a fresh start works once the disk is fixed`, async () => {
      const pod = await lab.addNode(`disk${fault === 'full' ? 'f' : 'r'}`, { lan: true });
      const state = path.join(pod.dir, 'state');
      if (fault === 'read-only') mountTmpfs(state, 'ro,size=1m');
      else {
        mountTmpfs(state, 'size=64k');
        try { fs.writeFileSync(path.join(state, 'filler'), Buffer.alloc(64 * 1024)); } catch { /* ENOSPC: full, as wanted */ }
      }
      const env = { TS_AUTHKEY: await lab.createKey({ reusable: true }), TS_HOSTNAME: `cb-disk-${fault}`, TS_STATE_DIR: state, TS_BOOT_TIMEOUT: '30s' };
      const cb = lab.startContainerboot(pod, { env, name: `cb-disk-${fault}` });
      const clear = fault === 'read-only' ? /read-only file system/ : /no space left on device/;
      // Either it fails (tailscaled cannot keep state) or it runs without persisting; either way
      // a line says why, and nothing spins.
      await Promise.race([cb.proc.waitExit(20_000).catch(() => undefined), cb.proc.waitForOutput(clear, 20_000).catch(() => undefined)]);
      await sleep(500);
      const exited = !cb.proc.running;
      let cpu = NaN;
      if (!exited) {
        const c0 = cpuSeconds(cb.pid);
        await sleep(5_000);
        cpu = cpuSeconds(cb.pid) - c0;
        expect(cpu, 'CPU seconds over 5 s with the broken disk').toBeLessThan(0.5);
        await cb.stop();
      } else {
        expect(cb.proc.exitInfo?.code, cb.output().slice(-1500)).not.toBe(0);
      }
      const out = cb.output();
      expect(out, out.slice(-2000)).toMatch(clear);
      // The fault ends: the disk is writable again; a fresh start reaches startup.
      umount(state);
      const again = lab.startContainerboot(pod, { env, name: `cb-disk-${fault}-fixed` });
      await again.waitStartupComplete(45_000);
      expect(fs.existsSync(path.join(state, 'tailscaled.state'))).toBe(true);
      await again.stop();
      const line = out.split('\n').find((l) => clear.test(l)) ?? '';
      console.log(`[chaos disk ${fault}] ${exited ? `exit ${cb.proc.exitInfo?.code}` : `kept running (CPU ${cpu.toFixed(2)} s / 5 s)`}; first clear line: ${line.slice(0, 240)}; fresh start after the fix: ok`);
    }, 120_000);
  }
});
