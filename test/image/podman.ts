// The image tests' adapter to podman: builds (or finds current) the image through scripts/image.sh,
// runs containers the way Docker users run upstream's image, with the container's network joined
// to a lab namespace (`--network ns:/var/run/netns/<ns>`) so it reaches the lab's headscale.
// A missing podman or image is an error naming it, never a skip.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LOGIN_SERVER, labTailscaleEnv, type LabNode, waitFor } from '../lab/lab.js';
import { run, type RunResult } from '../lab/proc.js';
import { REPO_ROOT } from '../lab/tools.js';

export const UPSTREAM_IMAGE = process.env.CONTAINERBOOT_UPSTREAM_IMAGE ?? 'localhost/tailscale-upstream:v1.102.3';

/** Builds the image if it is not current (cached: seconds when nothing changed) and returns its reference. */
export function ensureImage(which: 'containerboot' | 'upstream' = 'containerboot'): string {
  const script = `scripts/image.sh ${which}`;
  try {
    execFileSync('sh', ['-c', 'command -v podman'], { stdio: 'ignore' });
  } catch {
    throw new Error('podman is not installed: run `bash scripts/install-image-tools.sh` (scripts/setup.sh does)');
  }
  let out: string;
  try {
    out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts/image.sh'), which], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000, maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${script} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-15).join('\n')}`);
  }
  const ref = out.trim().split('\n').pop() ?? '';
  if (ref === '') throw new Error(`${script} printed no image reference`);
  return ref;
}

export function podman(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('podman', args, { timeoutMs });
}

async function podmanOk(args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The lab's tailscaled knobs and login server, for a container's environment. */
export function labContainerEnv(): Record<string, string> {
  const env = labTailscaleEnv('/tmp');
  delete env.PATH; // the image's own PATH
  delete env.HOME;
  return { ...env, TS_EXTRA_ARGS: `--login-server=${LOGIN_SERVER}`, TS_TAILSCALED_EXTRA_ARGS: '--no-logs-no-support' };
}

export interface RunOptions {
  image: string;
  /** The lab namespace whose network the container joins. */
  node: LabNode;
  env?: Record<string, string>;
  /** Extra `podman run` flags (volumes, --cap-add, --user, ...). */
  flags?: string[];
  /** Arguments after the image (none: the entrypoint boots). */
  args?: string[];
}

const started = new Set<string>();
let counter = 0;

export class Container {
  /** `socket`: the container's TS_SOCKET (upstream's default /tmp/tailscaled.sock). */
  constructor(readonly name: string, readonly socket = '/tmp/tailscaled.sock') {}

  async inspect(format: string): Promise<string> {
    return (await podmanOk(['inspect', '--format', format, this.name])).trim();
  }
  async logs(): Promise<string> {
    const r = await podman(['logs', this.name]);
    return r.stdout + r.stderr;
  }
  exec(argv: string[], timeoutMs = 30_000): Promise<RunResult> {
    return podman(['exec', this.name, ...argv], timeoutMs);
  }
  /** tailscaled's status through the image's own CLI. */
  async status(): Promise<any> {
    const r = await this.exec(['tailscale', `--socket=${this.socket}`, 'status', '--json']);
    if (r.code !== 0) throw new Error(`tailscale status in ${this.name} exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }
  async waitRunning(timeoutMs = 60_000): Promise<any> {
    return waitFor(`${this.name} Running`, async () => {
      if ((await this.inspect('{{.State.Status}}')) !== 'running') throw new Error(`${this.name} is not running:\n${(await this.logs()).slice(-3000)}`);
      const s = await this.status().catch(() => undefined);
      return s?.BackendState === 'Running' && (s.TailscaleIPs?.length ?? 0) > 0 ? s : undefined;
    }, timeoutMs, 300);
  }
  async waitExited(timeoutMs = 30_000): Promise<number> {
    await waitFor(`${this.name} exited`, async () => (await this.inspect('{{.State.Status}}')) === 'exited', timeoutMs, 200);
    return Number(await this.inspect('{{.State.ExitCode}}'));
  }
  /** Stops (SIGTERM, then SIGKILL after 10 s) and removes it. podman 4.3's `rm -f` can fail with
   *  "container state improper" when the container exits during its own stop: then once more. */
  async remove(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await podman(['rm', '-f', '-t', '10', this.name], 30_000);
      if ((await podman(['container', 'exists', this.name])).code !== 0) break;
    }
    started.delete(this.name);
  }
}

/** `podman run -d` in the lab namespace's network; returns once podman has started it. */
export async function runContainer(o: RunOptions): Promise<Container> {
  const name = `cbimg-${o.node.ns}-${process.pid}-${counter++}`;
  const envFlags = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  started.add(name);
  await podmanOk(['run', '-d', '--name', name, '--network', `ns:/var/run/netns/${o.node.ns}`, ...envFlags, ...(o.flags ?? []), o.image, ...(o.args ?? [])]);
  return new Container(name, o.env?.TS_SOCKET);
}

/** A foreground `podman run --rm` (for runs that end by themselves). */
export function runToEnd(o: RunOptions, timeoutMs = 60_000): Promise<RunResult> {
  const envFlags = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return podman(['run', '--rm', '--network', `ns:/var/run/netns/${o.node.ns}`, ...envFlags, ...(o.flags ?? []), o.image, ...(o.args ?? [])], timeoutMs);
}

/** Removes every container this process started (afterAll, before the lab's teardown). */
export async function removeAllContainers(): Promise<void> {
  await Promise.all([...started].map((n) => new Container(n).remove()));
}

/** A state directory on the host for a container volume, owned by `uid`. */
export function stateDir(node: LabNode, name: string, uid = 0): string {
  const d = path.join(node.dir, name);
  fs.mkdirSync(d, { recursive: true });
  fs.chownSync(d, uid, uid);
  return d;
}
