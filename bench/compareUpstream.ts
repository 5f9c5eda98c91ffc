// bench/compare-upstream: this project's bin/containerboot and upstream's Go containerboot
// v1.102.3 (built from the Go module proxy by scripts/install-go-tools.sh --upstream-containerboot,
// run as a black box) on the same workloads in one lab, interleaved, printing one table.
//   bash bench/run.sh compare-upstream [--tiny] [--runs N] [--modes userspace,ingress,egress]
//     [--churn N] [--idle S] [--dnat-changes N] [--sizes 10,100,500,1000]
//     [--backends iptables-legacy,iptables-nft,nftables] [--ha-runs N] [--only lab,dnat,ha]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab } from '../test/lab/lab.js';
import { CONTAINERBOOT, REPO_ROOT, TOOLS_DIR } from '../test/lab/tools.js';
import { runDnat, type DnatBackend } from './compare/dnat.js';
import { runLabBoot, type BootMode } from './compare/labBoot.js';
import { runServices, type Backend } from './compare/services.js';
import { MetricSet, renderTable, type Side } from './compare/stats.js';

const argv = process.argv.slice(2);
const tiny = argv.includes('--tiny');
const arg = (name: string, normal: string, small: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : tiny ? small : normal;
};
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

// COMPARE_UPSTREAM_BIN: another build in upstream's place (e.g. this project's main branch, for an
// interleaved before/after of a change); the table's "upstream" column is then that build.
const UPSTREAM = process.env.COMPARE_UPSTREAM_BIN ?? path.join(TOOLS_DIR, 'upstream', 'bin', 'containerboot');
if (!fs.existsSync(UPSTREAM)) throw new Error(`${UPSTREAM} is missing (build it with: bash scripts/install-go-tools.sh --upstream-containerboot)`);
const binaries: Record<Side, string> = { ours: CONTAINERBOOT, upstream: UPSTREAM };
const only = new Set(list(arg('only', 'lab,dnat,ha', 'lab,dnat,ha')));

const metrics = new MetricSet();
const started = Date.now();
const log = (s: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const load0 = os.loadavg();

const lab = await Lab.start({ name: 'compare-upstream' });
try {
  if (only.has('lab')) {
    await runLabBoot(lab, {
      runs: Number(arg('runs', '5', '1')), modes: list(arg('modes', 'userspace,ingress,egress', 'userspace,ingress,egress')) as BootMode[],
      churn: Number(arg('churn', '20', '2')), idleSeconds: Number(arg('idle', '60', '2')), binaries,
    }, metrics, log);
  }
  if (only.has('dnat')) {
    await runDnat(lab, { changes: Number(arg('dnat-changes', '200', '5')), backends: list(arg('dnat-backends', 'nftables,iptables-legacy', 'nftables,iptables-legacy')) as DnatBackend[], binaries }, metrics, log);
  }
  if (only.has('ha')) {
    await runServices(lab, {
      sizes: list(arg('sizes', '10,100,500,1000', '10')).map(Number), backends: list(arg('backends', 'iptables-legacy,iptables-nft,nftables', 'iptables-legacy,iptables-nft,nftables')) as Backend[],
      runs: Number(arg('ha-runs', '2', '1')), binaries, timeoutMs: Number(arg('ha-timeout', '600000', '60000')),
    }, metrics, log);
  }
} finally {
  await lab.teardown();
}

const load1 = os.loadavg();
const table = renderTable(metrics.all());
const header = `compare-upstream ${new Date().toISOString()}, ${os.cpus().length} cores, load average ${load0[0]!.toFixed(2)} at start / ${load1[0]!.toFixed(2)} at end, ${((Date.now() - started) / 1000).toFixed(0)} s; args: ${argv.join(' ') || '(defaults)'}`;
fs.mkdirSync(path.join(REPO_ROOT, '.lab'), { recursive: true });
fs.writeFileSync(path.join(REPO_ROOT, '.lab', 'compare-upstream.json'), JSON.stringify({ header, metrics: metrics.all() }, null, 1));
console.log(`\n${header}\n\n${table}`);
