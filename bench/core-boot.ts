// Core boot budgets (issue #2): exec → tailscaled spawned, socket created → first LocalAPI request,
// and containerboot's RSS after "Startup complete", against the fake LocalAPI, non-kube config.
// Run: bash bench/run.sh core   (bundles this file with esbuild and runs it on Node 24)
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, chmodSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeLocalAPI } from '../test/support/fakeLocalAPI.js';

const REPO = process.env.REPO ?? process.cwd();
const RUNS = Number(process.env.RUNS ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

interface Sample { spawnMs: number; firstReqMs: number; rssMB: number; anonMB: number; hwmMB: number }

async function once(i: number): Promise<Sample> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cb-bench-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const stamp = path.join(dir, 'tailscaled.stamp');
  // A shell stand-in: records the wall clock at exec (date adds ~1 ms), then idles until SIGTERM.
  writeFileSync(path.join(bin, 'tailscaled'), `#!/bin/sh\ndate +%s%N > ${stamp}\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n`);
  writeFileSync(path.join(bin, 'tailscale'), '#!/bin/sh\nexit 0\n');
  chmodSync(path.join(bin, 'tailscaled'), 0o755);
  chmodSync(path.join(bin, 'tailscale'), 0o755);
  const socket = path.join(dir, 'ts.sock');
  const api = new FakeLocalAPI(socket);
  api.state = 'Running';
  api.self = { ID: 1, StableID: 's', Name: 'bench.ts.net.', Addresses: ['100.64.0.1/32'] };
  let listenedAt = 0n;
  let firstReqAt = 0n;
  const t0 = nowNs();
  const cb = spawn(path.join(REPO, 'bin/containerboot'), [], {
    // CONTAINERBOOT_NODE passes through so a node wrapper with V8 flags can be measured (docs/DECISIONS.md).
    env: { PATH: `${bin}:/usr/bin:/bin`, TS_SOCKET: socket, TS_AUTHKEY: 'bench-key', TS_AUTH_ONCE: 'true', TS_TEST_ONLY_ROOT: dir, HOME: dir, ...(process.env.CONTAINERBOOT_NODE ? { CONTAINERBOOT_NODE: process.env.CONTAINERBOOT_NODE } : {}) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = '';
  const started = new Promise<void>((resolve, reject) => {
    cb.stderr!.on('data', (c: Buffer) => { log += c.toString(); if (log.includes('Startup complete, waiting for shutdown signal')) resolve(); });
    cb.once('exit', (code) => reject(new Error(`containerboot exited ${code}: ${log}`)));
  });
  // The socket appears a while after tailscaled started (the real daemon needs 100+ ms): create it
  // 50 ms after containerboot says it is waiting for it.
  while (!log.includes('Waiting for tailscaled socket')) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 50));
  // The socket file is created inside listen() (bind + listen run synchronously in that call), so
  // the time just before it is when the socket appears; the first request is timed when its
  // headers reach the server, before its body is read.
  api.onRequestStart = (p) => { if (firstReqAt === 0n && p.startsWith('/localapi/')) firstReqAt = nowNs(); };
  listenedAt = nowNs();
  await api.listen();
  await started;
  await new Promise((r) => setTimeout(r, 300));
  const status = readFileSync(`/proc/${cb.pid}/status`, 'utf8');
  const kB = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  const spawned = BigInt(readFileSync(stamp, 'utf8').trim());
  cb.kill('SIGTERM');
  await new Promise((r) => cb.once('exit', r));
  await api.close();
  rmSync(dir, { recursive: true, force: true });
  void i;
  return { spawnMs: Number(spawned - t0) / 1e6, firstReqMs: Number(firstReqAt - listenedAt) / 1e6, rssMB: kB('VmRSS') / 1024, anonMB: kB('RssAnon') / 1024, hwmMB: kB('VmHWM') / 1024 };
}

const results = [];
for (let i = 0; i < RUNS; i++) results.push(await once(i));
const out = {
  runs: RUNS,
  node: process.version,
  execToTailscaledSpawnedMs: { median: median(results.map((r) => r.spawnMs)), min: Math.min(...results.map((r) => r.spawnMs)), max: Math.max(...results.map((r) => r.spawnMs)) },
  socketToFirstRequestMs: { median: median(results.map((r) => r.firstReqMs)), max: Math.max(...results.map((r) => r.firstReqMs)) },
  rssAfterStartupMB: { median: median(results.map((r) => r.rssMB)), max: Math.max(...results.map((r) => r.rssMB)) },
  anonRssAfterStartupMB: { median: median(results.map((r) => r.anonMB)), max: Math.max(...results.map((r) => r.anonMB)) },
  peakRssMB: { median: median(results.map((r) => r.hwmMB)), max: Math.max(...results.map((r) => r.hwmMB)) },
  budgets: { execToTailscaledSpawnedMs: 100, socketToFirstRequestMs: 5, rssAfterStartupMB: 55 },
};
console.log(JSON.stringify(out, null, 2));
