// Bundles src/main.ts into one ESM file so start-up reads and compiles a single module.
// koffi stays external: it ships a native addon that must be loaded from node_modules.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// `containerboot --version` (src/cli/version.ts): our version, and the tailscaled pin that
// scripts/install-go-tools.sh builds and the image ships.
const ownVersion = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const tailscaleVersion = /^TAILSCALE_VERSION=(v[0-9][^\s]*)$/m.exec(readFileSync(path.join(root, 'scripts/install-go-tools.sh'), 'utf8'))?.[1];
if (!ownVersion || !tailscaleVersion) throw new Error('build: cannot read the version from package.json or TAILSCALE_VERSION from scripts/install-go-tools.sh');
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
  define: { __CONTAINERBOOT_VERSION__: JSON.stringify(ownVersion), __TAILSCALE_VERSION__: JSON.stringify(tailscaleVersion) },
  // src/util/nativeRequire.ts reads import.meta only when __filename is missing (ESM test runs).
  logOverride: { 'empty-import-meta': 'silent' },
});
