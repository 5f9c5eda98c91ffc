// Bundles src/main.ts into one ESM file so start-up reads and compiles a single module.
// koffi stays external: it ships a native addon that must be loaded from node_modules.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'src/main.ts')],
  outfile: path.join(root, 'dist/containerboot.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['koffi'],
  // CommonJS dependencies (fastify, prom-client) call require() for Node built-ins.
  banner: { js: "import { createRequire as __cbCreateRequire } from 'node:module'; const require = __cbCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
