// Soak benchmark (test/soak/soakRun.ts): both proxies under churn for N minutes, then the pass
// criteria of issue 12 and the samples as a Markdown table (for docs/RELIABILITY.md).
//   bash bench/run.sh soak [--minutes N]     (default 20)
import { judge, runSoak, samplesTable } from '../test/soak/soakRun.js';

const i = process.argv.indexOf('--minutes');
const minutes = i >= 0 ? Number(process.argv[i + 1]) : 20;
if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
const r = await runSoak({ minutes, log: (s) => console.log(s) });
console.log(`\nsteps: ${r.steps.churn} peer leave/join, ${r.steps.configWrites} egress config rewrites, ${r.steps.targetMoves} FQDN target moves`);
console.log(samplesTable(r.samples));
for (const l of judge(r.samples, minutes).lines) console.log(l);
console.log(r.verdict.ok ? 'PASS' : 'FAIL');
process.exit(r.verdict.ok ? 0 : 1);
