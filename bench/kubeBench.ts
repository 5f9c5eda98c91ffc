// Runner of bench/kube.mjs (bundled by it). Two measurements against the fake Kubernetes API
// (TLS on loopback) and, for the boot, the fake LocalAPI and fake tailscaled/tailscale:
//  1. kube module in isolation: node + bundled kube code, client, setupKube, boot reset.
//  2. kube-mode boot of a containerboot bundle: exec → tailscaled spawned, and RSS (VmRSS of the
//     containerboot process) once `Startup complete` is logged.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeKubeApi } from '../test/support/fakeKubeApi.js';
import { FakeLocalAPI } from '../test/support/fakeLocalAPI.js';
import { goRunning, FAKE_BIN } from '../test/support/harness.js';

const [node, driverBundle, bootCmd, runsArg] = process.argv.slice(2) as [string, string, string, string];
const runs = Number(runsArg || 15);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]): string => `median ${median(xs).toFixed(1)} (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;

const api = await startFakeKubeApi({ secrets: { tailscale: {} } });
const env = { ...process.env, ...api.env };

// 1. kube module alone.
const baseline: number[] = [];
const rows: Array<Record<string, number>> = [];
// Asynchronous: the fake API server answers from this very process.
const run = promisify(execFile);
for (let i = 0; i < runs; i++) {
  api.setSecret('tailscale', {});
  const t0 = Date.now();
  await run(node, ['-e', '']);
  baseline.push(Date.now() - t0);
  const r = await run(node, [driverBundle], { env, encoding: 'utf8' });
  rows.push(JSON.parse(r.stdout) as Record<string, number>);
}
const col = (k: string): number[] => rows.map((r) => r[k]!);
console.log(`kube module (${runs} runs, ms since process start unless noted):`);
console.log(`  node -e '' wall time          ${fmt(baseline)}`);
console.log(`  bundle loaded and evaluated    ${fmt(col('importMs'))}`);
console.log(`  client + Events SSARs          ${fmt(col('clientMs'))}`);
console.log(`  setupKube (4 SSARs + GET)      ${fmt(col('setupMs'))}`);
console.log(`  boot reset (GET + PATCH)       ${fmt(col('resetMs'))}`);
console.log(`  kube ready since process start ${fmt(col('readyMs'))}`);
console.log(`  RSS at kube ready (MB)         ${fmt(col('rssMB'))}`);

// 2. kube-mode boot of a containerboot bundle.
const spawnMs: number[] = [];
const rssMB: number[] = [];
const stub = mkdtempSync(path.join(os.tmpdir(), 'kube-bench-bin-'));
writeFileSync(path.join(stub, 'tailscaled'), `#!/bin/sh\ndate +%s%N >> "$BENCH_SPAWN_LOG"\nexec "${FAKE_BIN}/tailscaled" "$@"\n`);
chmodSync(path.join(stub, 'tailscaled'), 0o755);
for (let i = 0; i < runs; i++) {
  api.setSecret('tailscale', {});
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kube-bench-'));
  const socket = path.join(dir, 'tailscaled.sock');
  const spawnLog = path.join(dir, 'spawn.log');
  writeFileSync(spawnLog, '');
  writeFileSync(path.join(dir, 'fake.log'), '');
  mkdirSync(path.join(api.root, 'dev/net'), { recursive: true });
  const local = new FakeLocalAPI(socket);
  local.cliHandler = (call, a) => {
    if (call.args.includes('up')) goRunning(a);
    return 0;
  };
  const [cmd, ...args] = bootCmd.split(' ') as [string, ...string[]];
  const t0 = Date.now();
  const p = spawn(cmd, args, {
    env: {
      ...env, PATH: `${stub}:${FAKE_BIN}:${process.env.PATH}`, HOME: dir, FAKE_LOG: path.join(dir, 'fake.log'), BENCH_SPAWN_LOG: spawnLog,
      TS_SOCKET: socket, TS_TEST_FAKE_NETFILTER: 'true', TS_USERSPACE: 'true', TS_AUTHKEY: 'tskey-bench', TS_KUBE_SECRET: 'tailscale',
      POD_NAME: 'proxy-0', POD_UID: 'uid-1', TS_LOCAL_ADDR_PORT: '127.0.0.1:0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const done = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (out.includes('Startup complete, waiting for shutdown signal')) resolve();
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.on('exit', () => reject(new Error(`containerboot exited before startup:\n${out}`)));
  });
  // Like the real daemon, the socket appears only once tailscaled runs.
  let listening = false;
  const poll = setInterval(() => {
    if (!listening && readFileSync(spawnLog, 'utf8') !== '') {
      listening = true;
      void local.listen();
    }
  }, 2);
  try {
    await done;
  } finally {
    clearInterval(poll);
  }
  const spawnedAt = Number(BigInt(readFileSync(spawnLog, 'utf8').trim().split('\n')[0]!) / 1_000_000n);
  spawnMs.push(spawnedAt - t0);
  const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
  rssMB.push(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024);
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
  await local.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`kube-mode boot of \`${bootCmd}\` (${runs} runs):`);
console.log(`  exec → tailscaled spawned (ms) ${fmt(spawnMs)}   budget ≤ 250 median`);
console.log(`  RSS after Startup complete (MB) ${fmt(rssMB)}   budget ≤ 80`);
rmSync(stub, { recursive: true, force: true });
await api.close();
