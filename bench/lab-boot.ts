// Real-stack boot benchmark: bin/containerboot against real tailscaled v1.102.3 + headscale v0.29.2
// in the lab's namespaces. Per run: exec → Running (LocalAPI status polled every 10 ms),
// Running → "Startup complete" (log line received on the pipe), and RSS of the containerboot
// process (VmRSS) 1 s after startup. Each run uses a fresh ephemeral node and ends with SIGTERM.
//   bash bench/lab.sh [--runs N] [--mode userspace|ingress|both]
import fs from 'node:fs';
import path from 'node:path';
import { Lab, LOGIN_SERVER, Peer, labTailscaleEnv, sleep } from '../test/lab/lab.js';
import { localapiJSON } from '../test/lab/localapi.js';
import { REPO_ROOT } from '../test/lab/tools.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const RUNS = Number(arg('runs', '7'));
const MODE = arg('mode', 'both');

interface Sample { execToRunning: number; runningToStartup: number; rssKiB: number; tailscaledRssKiB: number }
interface Failure { run: number; error: string }

function vmRSS(pid: number): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

const lab = await Lab.start({ name: 'bench' });
const results: Record<string, { samples: Sample[]; failures: Failure[] }> = {};
try {
  const cluster = await lab.addNode('cluster', { cluster: true });
  await lab.startWebServer(cluster, 'bench-backend', 8080);
  const modes = MODE === 'both' ? ['baseline', 'userspace', 'ingress'] : [MODE];
  for (const mode of modes) {
    if (mode === 'baseline') {
      // Reference without containerboot: start tailscaled (userspace, mem state) and run
      // `tailscale up` as soon as its socket exists, like containerboot does.
      const samples: Sample[] = [];
      const failures: Failure[] = [];
      for (let i = 0; i <= RUNS; i++) {
        const node = await lab.addNode(`base${i}`, { lan: true });
        const p = new Peer(lab, node, `bench-base-${i}`, false, labTailscaleEnv(node.dir));
        try {
          const key = await lab.createKey({ ephemeral: true });
          const t0 = Date.now();
          await p.startDaemon();
          lab.processes.push(p.proc);
          const up = p.cli(['up', `--login-server=${LOGIN_SERVER}`, `--auth-key=${key}`, `--hostname=bench-base-${i}`, '--accept-dns=false']);
          let runningAt = 0;
          while (!runningAt) {
            if (Date.now() - t0 > 60_000) throw new Error('no Running within 60 s');
            const s = await localapiJSON(p.socket, 'status').catch(() => undefined);
            if (s?.BackendState === 'Running' && s.TailscaleIPs?.length) runningAt = Date.now();
            else await sleep(10);
          }
          await up;
          const sample = { execToRunning: runningAt - t0, runningToStartup: 0, rssKiB: 0, tailscaledRssKiB: vmRSS(p.proc.pid) };
          if (i > 0) samples.push(sample);
          console.log(`baseline run ${i}${i === 0 ? ' (warm-up)' : ''}: tailscaled exec→Running ${sample.execToRunning} ms`);
        } catch (e) {
          failures.push({ run: i, error: (e as Error).message.split('\n')[0] });
        } finally {
          await p.cli(['logout']).catch(() => undefined);
          await p.stop();
        }
      }
      results[mode] = { samples, failures };
      continue;
    }
    const pod = await lab.addNode(`pod-${mode}`, { lan: true, cluster: true });
    const samples: Sample[] = [];
    const failures: Failure[] = [];
    // One warm-up run (page cache, headscale's first-node work), not counted.
    for (let i = 0; i <= RUNS; i++) {
      const env: Record<string, string> = { TS_AUTHKEY: await lab.createKey({ ephemeral: true }), TS_HOSTNAME: `bench-${mode}-${i}`, ...(process.env.CONTAINERBOOT_NODE ? { CONTAINERBOOT_NODE: process.env.CONTAINERBOOT_NODE } : {}) };
      if (mode === 'ingress') Object.assign(env, { TS_USERSPACE: 'false', TS_DEST_IP: cluster.clusterIP! });
      // The socket directory exists, as with the default TS_SOCKET=/tmp/tailscaled.sock (the
      // event-driven socket wait; failed starts are counted, see COMPATIBILITY.md L4).
      const cb = lab.startContainerboot(pod, { env, name: `containerboot-${mode}-${i}`, socketDirExists: true });
      try {
        let runningAt = 0;
        const deadline = cb.execAt + 60_000;
        while (!runningAt) {
          if (!cb.proc.running) throw new Error(`exited ${cb.proc.exitInfo?.code}: ${cb.redact(cb.proc.tail(5))}`);
          if (Date.now() > deadline) throw new Error('no Running within 60 s');
          const s = await localapiJSON(cb.socket, 'status').catch(() => undefined);
          if (s?.BackendState === 'Running' && s.TailscaleIPs?.length) runningAt = Date.now();
          else await sleep(10);
        }
        await cb.waitStartupComplete(30_000);
        const startupAt = Date.now();
        await sleep(1000);
        const tsd = cb.pidsOf('tailscaled')[0];
        const sample = { execToRunning: runningAt - cb.execAt, runningToStartup: Math.max(0, startupAt - runningAt), rssKiB: vmRSS(cb.pid), tailscaledRssKiB: tsd ? vmRSS(tsd) : 0 };
        if (i > 0) samples.push(sample);
        console.log(`${mode} run ${i}${i === 0 ? ' (warm-up)' : ''}: exec→Running ${sample.execToRunning} ms, Running→Startup ${sample.runningToStartup} ms, RSS ${(sample.rssKiB / 1024).toFixed(1)} MiB (tailscaled ${(sample.tailscaledRssKiB / 1024).toFixed(1)} MiB)`);
      } catch (e) {
        failures.push({ run: i, error: (e as Error).message.split('\n').slice(0, 3).join(' | ') });
        console.log(`${mode} run ${i}: FAILED ${(e as Error).message.split('\n')[0]}`);
      } finally {
        await cb.stop(15_000);
      }
    }
    results[mode] = { samples, failures };
  }
} finally {
  await lab.teardown();
}

const out = { date: new Date().toISOString(), runs: RUNS, host: `${(await import('node:os')).cpus().length} cores`, results };
fs.mkdirSync(path.join(REPO_ROOT, '.lab'), { recursive: true });
fs.writeFileSync(path.join(REPO_ROOT, '.lab', 'bench-lab.json'), JSON.stringify(out, null, 2));
console.log('\n| mode | runs ok | exec → Running (median, min–max) | Running → Startup complete (median, min–max) | containerboot RSS after startup (median) | tailscaled RSS (median) |');
console.log('|---|---|---|---|---|---|');
for (const [mode, r] of Object.entries(results)) {
  const col = (k: keyof Sample, unit: (v: number) => string) => {
    const xs = r.samples.map((s) => s[k]);
    return `${unit(median(xs))} (${unit(Math.min(...xs))}–${unit(Math.max(...xs))})`;
  };
  const base = mode === 'baseline';
  const mib = (k: keyof Sample) => `${(median(r.samples.map((s) => s[k])) / 1024).toFixed(1)} MiB`;
  console.log(`| ${base ? 'baseline (tailscaled + tailscale up, no containerboot)' : mode} | ${r.samples.length}/${RUNS} | ${col('execToRunning', (v) => `${Math.round(v)} ms`)} | ${base ? '—' : col('runningToStartup', (v) => `${Math.round(v)} ms`)} | ${base ? '—' : mib('rssKiB')} | ${mib('tailscaledRssKiB')} |`);
  for (const f of r.failures) console.log(`  failure in ${mode} run ${f.run}: ${f.error}`);
}
