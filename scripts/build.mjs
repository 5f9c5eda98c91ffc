// Bundles src/main.ts into one ESM file so start-up reads and compiles a single module.
// koffi stays external: it ships a native addon that must be loaded from node_modules.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'src/main.ts')],
  outfile: path.join(root, 'dist/containerboot.cjs'),
  bundle: true,
  platform: 'node',
  // CommonJS output: measured 14 MB less RSS than the same program as ESM on Node 24 (docs/DECISIONS.md).
  format: 'cjs',
  target: 'node24',
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['koffi'],
  logLevel: 'warning',
  // src/util/nativeRequire.ts reads import.meta only when __filename is missing (ESM test runs).
  logOverride: { 'empty-import-meta': 'silent' },
});
