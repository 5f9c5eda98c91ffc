// The real-lab half of bench/compare-upstream: both containerboots boot against the real
// tailscaled v1.102.3 and headscale in the lab (test/lab), interleaved run by run (the order
// alternates, so neither side always goes first). Per run: exec → Running, Running → "Startup
// complete", CPU time to Startup complete, memory 1 s after start-up, memory after netmap churn
// (a lab peer renames itself `churn` times; every rename is a netmap change for every node).
import type { Lab, LabNode, Peer } from '../../test/lab/lab.js';
import { sleep } from '../../test/lab/lab.js';
import { watchIPNBus, type BusWatch } from '../../test/lab/localapi.js';
import { contextSwitches, cpuMs, mem } from './procfs.js';
import { oursNode, SIDES, type MetricSet, type Side } from './stats.js';

export type BootMode = 'userspace' | 'ingress' | 'egress';

const NOTIFY_INITIAL_STATE = 2; // ipn.NotifyInitialState
const RUNNING = 6; // ipn.Running in the bus's State field
export interface LabBootOptions { runs: number; modes: BootMode[]; churn: number; idleSeconds: number; binaries: Record<Side, string> }

interface Ctx { lab: Lab; cluster: LabNode; target: Peer; churnPeer: Peer; opts: LabBootOptions; metrics: MetricSet; log: (s: string) => void }

function modeEnv(mode: BootMode, ctx: Ctx, targetIP: string): Record<string, string> {
  if (mode === 'ingress') return { TS_USERSPACE: 'false', TS_DEST_IP: ctx.cluster.clusterIP! };
  if (mode === 'egress') return { TS_USERSPACE: 'false', TS_TAILNET_TARGET_IP: targetIP };
  return {};
}

async function churn(ctx: Ctx, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await ctx.churnPeer.cli(['set', `--hostname=churn-${tag}-${i}`]);
    if (r.code !== 0) throw new Error(`tailscale set --hostname on the churn peer failed: ${r.stderr.trim()}`);
  }
}

/** Boots one side once; records its samples under `mode`. Returns the running containerboot for the caller to stop. */
async function bootOnce(ctx: Ctx, pod: LabNode, mode: BootMode, side: Side, run: number, count: boolean): Promise<void> {
  const { lab, metrics } = ctx;
  const targetIP = await ctx.target.ip4();
  const env = { TS_AUTHKEY: await lab.createKey({ ephemeral: true }), TS_HOSTNAME: `cmp-${mode}-${side}-${run}`, ...modeEnv(mode, ctx, targetIP), ...oursNode(side) };
  const cb = lab.startContainerboot(pod, { env, name: `cb-${side}-${mode}-${run}`, socketDirExists: true, binary: ctx.opts.binaries[side] });
  try {
    // Running is when tailscaled's bus says so: a watch of the bench's own, opened as soon as the
    // socket answers (long before login ends), timestamps the `State: Running` notification as
    // it arrives, the moment both programs' own watches get it too.
    const deadline = cb.execAt + 60_000;
    let bus: BusWatch | undefined;
    while (!bus) {
      if (!cb.proc.running) throw new Error(`${side} exited ${cb.proc.exitInfo?.code}: ${cb.redact(cb.proc.tail(8))}`);
      if (Date.now() > deadline) throw new Error(`${side}: tailscaled's LocalAPI not up within 60 s`);
      bus = await watchIPNBus(cb.socket, NOTIFY_INITIAL_STATE).catch(() => undefined);
      if (!bus) await sleep(2);
    }
    let runningAt: number;
    try {
      const first = await bus.waitFor(() => true, 30_000, 'the initial state');
      if (first.State === RUNNING) throw new Error(`${side}: tailscaled was Running before the bench's watch opened`);
      let line = '';
      await bus.waitFor((m, l) => { if (m.State !== RUNNING) return false; line = l; return true; }, Math.max(1, deadline - Date.now()), 'State Running');
      runningAt = bus.times[bus.lines.indexOf(line)]!;
    } finally {
      bus.close();
    }
    await cb.waitStartupComplete(30_000);
    const startupAt = Date.now();
    const cpu = cpuMs(cb.pid);
    await sleep(1000);
    const m0 = mem(cb.pid);
    await churn(ctx, ctx.opts.churn, `${side}${run}`);
    await sleep(1000);
    const m1 = mem(cb.pid);
    if (!cb.proc.running) throw new Error(`${side} exited during churn: ${cb.redact(cb.proc.tail(8))}`);
    ctx.log(`${mode} ${side} run ${run}${count ? '' : ' (warm-up)'}: exec→Running ${runningAt - cb.execAt} ms, Running→Startup ${startupAt - runningAt} ms, CPU ${cpu} ms, RSS ${m0.rssMiB.toFixed(1)} → ${m1.rssMiB.toFixed(1)} MiB after ${ctx.opts.churn} netmap changes`);
    if (!count) return;
    metrics.add(`${mode}: exec → Running`, 'ms', side, runningAt - cb.execAt);
    metrics.add(`${mode}: Running → Startup complete`, 'ms', side, Math.max(0, startupAt - runningAt));
    metrics.add(`${mode}: CPU user+sys (with reaped children) to Startup complete`, 'ms', side, cpu);
    metrics.add(`${mode}: RSS after start-up`, 'MiB', side, m0.rssMiB);
    metrics.add(`${mode}: anonymous RSS after start-up`, 'MiB', side, m0.anonMiB);
    metrics.add(`${mode}: RSS after ${ctx.opts.churn} netmap changes`, 'MiB', side, m1.rssMiB);
    metrics.add(`${mode}: anonymous RSS after ${ctx.opts.churn} netmap changes`, 'MiB', side, m1.anonMiB);
    metrics.add(`${mode}: peak RSS (VmHWM) after churn`, 'MiB', side, m1.hwmMiB);
  } finally {
    await cb.stop(15_000);
  }
}

/** Both sides idle side by side (started together, so the same machine noise hits both). */
async function idle(ctx: Ctx): Promise<void> {
  const { lab } = ctx;
  const cbs = await Promise.all(SIDES.map(async (side) => {
    const pod = await lab.addNode(`idle-${side}`, { lan: true, cluster: true });
    const env = { TS_AUTHKEY: await lab.createKey({ ephemeral: true }), TS_HOSTNAME: `cmp-idle-${side}`, ...oursNode(side) };
    return { side, cb: lab.startContainerboot(pod, { env, name: `cb-${side}-idle`, socketDirExists: true, binary: ctx.opts.binaries[side] }) };
  }));
  try {
    await Promise.all(cbs.map(({ cb }) => cb.waitStartupComplete(60_000)));
    await sleep(3000);
    const before = cbs.map(({ cb }) => ({ cpu: cpuMs(cb.pid), cs: contextSwitches(cb.pid) }));
    await sleep(ctx.opts.idleSeconds * 1000);
    cbs.forEach(({ side, cb }, i) => {
      const cpu = cpuMs(cb.pid) - before[i]!.cpu;
      const cs = contextSwitches(cb.pid) - before[i]!.cs;
      ctx.metrics.add(`idle ${ctx.opts.idleSeconds} s (userspace): CPU user+sys`, 'ms', side, cpu);
      ctx.metrics.add(`idle ${ctx.opts.idleSeconds} s (userspace): context switches (wake-ups), all threads`, 'count', side, cs);
      ctx.log(`idle ${side}: ${cpu} ms CPU, ${cs} context switches in ${ctx.opts.idleSeconds} s`);
    });
  } finally {
    await Promise.all(cbs.map(({ cb }) => cb.stop(15_000)));
  }
}

export async function runLabBoot(lab: Lab, opts: LabBootOptions, metrics: MetricSet, log: (s: string) => void): Promise<void> {
  const cluster = await lab.addNode('cluster', { cluster: true });
  await lab.startWebServer(cluster, 'cmp-backend', 8080);
  const target = await lab.startPeer('target', { hostname: 'cmp-target' });
  const churnPeer = await lab.startPeer('churner', { hostname: 'churn-start' });
  const ctx: Ctx = { lab, cluster, target, churnPeer, opts, metrics, log };
  for (const mode of opts.modes) {
    const pods = Object.fromEntries(await Promise.all(SIDES.map(async (s) => [s, await lab.addNode(`${mode}-${s}`, { lan: true, cluster: true })] as const))) as Record<Side, LabNode>;
    // One warm-up run per side (page cache, headscale's first-node work), not counted.
    for (let run = 0; run <= opts.runs; run++) {
      const order = run % 2 ? [...SIDES].reverse() : SIDES;
      for (const side of order) await bootOnce(ctx, pods[side], mode, side, run, run > 0);
    }
  }
  if (opts.idleSeconds > 0) await idle(ctx);
}
