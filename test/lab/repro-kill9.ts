// Reproduction for COMPATIBILITY.md L6: SIGKILL of containerboot's tailscaled after startup should
// exit with 128+9 and log `tailscaled exited unexpectedly (signal: killed)` (COMPATIBILITY.md C3).
// Exits 1 if any of the runs takes the IPN-bus error path instead.
//   bash test/lab/run.sh test/lab/repro-kill9.ts [runs]
import { Lab } from './lab.js';

const runs = Number(process.argv[2] ?? '3');
const lab = await Lab.start({ name: 'repro-kill9' });
let bad = 0;
try {
  for (let i = 0; i < runs; i++) {
    const pod = await lab.addNode(`k${i}`, { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: await lab.createKey(), TS_HOSTNAME: `kill9-${i}` } });
    await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    const [tsd] = cb.pidsOf('tailscaled');
    const t0 = Date.now();
    process.kill(tsd, 'SIGKILL');
    const e = await cb.proc.waitExit(10_000);
    const ok = e.code === 137 && /tailscaled exited unexpectedly \(signal: killed\)/.test(cb.output());
    if (!ok) bad++;
    console.log(`run ${i}: exit ${e.code} after ${e.at - t0} ms — ${ok ? 'as documented (C3)' : 'NOT as documented'}`);
    for (const l of cb.output().split('\n').filter((l) => l.startsWith('boot:')).slice(-5)) console.log(`    ${l}`);
  }
} finally {
  await lab.teardown();
}
console.log(`${bad} of ${runs} runs deviate from C3`);
process.exit(bad ? 1 : 0);
