// Processes started by the lab: spawned inside a network namespace, logged to a file and kept in
// memory, ended by PID only. Every PID is remembered in a registry so an exit handler can end
// what a failed test left behind.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every lab child still alive, by PID (used by the synchronous exit handler). */
export const livePids = new Set<number>();

/** Runs a command to completion (never throws on a non-zero exit; throws on timeout). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (child.pid !== undefined) livePids.delete(child.pid);
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (e && e.killed) {
        reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs ?? 30_000} ms\n${stderr}`));
        return;
      }
      if (e && typeof e.code !== 'number') {
        reject(new Error(`${cmd}: ${e.message}`));
        return;
      }
      resolve({ code: e ? Number(e.code) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (child.pid !== undefined) livePids.add(child.pid);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run(), but a non-zero exit is an error carrying the command's stderr. */
export async function runOk(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export class LabProcess {
  readonly pid: number;
  readonly startedAt = Date.now();
  exitInfo: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;
  private buf = '';
  private waiters: Array<() => void> = [];
  private readonly log: fs.WriteStream;

  constructor(readonly name: string, readonly child: ChildProcess, readonly logPath: string) {
    if (child.pid === undefined) throw new Error(`${name}: failed to start`);
    this.pid = child.pid;
    livePids.add(this.pid);
    this.log = fs.createWriteStream(logPath, { flags: 'a' });
    const onData = (d: Buffer) => {
      const s = d.toString('utf8');
      this.buf += s;
      this.log.write(s);
      for (const w of this.waiters.splice(0)) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        livePids.delete(this.pid);
        this.exitInfo = { code, signal, at: Date.now() };
        // Let the remaining output drain before waking waiters.
        setImmediate(() => {
          this.log.end();
          for (const w of this.waiters.splice(0)) w();
          resolve(this.exitInfo!);
        });
      });
    });
  }

  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string {
    return this.buf;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Waits until the output matches `re` (searched from `from`), the process exits, or the timeout. */
  async waitForOutput(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.buf.slice(from).match(re);
      if (m) return m;
      if (this.exitInfo) throw new Error(`${this.name} exited (${this.exitInfo.code ?? this.exitInfo.signal}) before printing ${re}; output tail:\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: ${re} not seen within ${timeoutMs} ms; output tail:\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for exit, failing after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<ExitInfo> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms; output tail:\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  tail(lines = 40): string {
    return this.buf.split('\n').slice(-lines).join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exitInfo) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGTERM');
    try {
      return await this.waitExit(graceMs);
    } catch {
      this.signal('SIGKILL');
      return await this.waitExit(5000);
    }
  }
}

/**
 * Starts `argv` inside network namespace `ns`. `ip netns exec` gives the child its own mount
 * namespace (slave propagation); there we mount a private tmpfs on /run so nothing the child
 * writes under /run or /var/run (containerboot's /var/run/tailscale symlink, xtables.lock)
 * reaches the host. The shell execs, so the returned PID is the program's own PID.
 */
export function spawnInNs(ns: string, argv: string[], opts: { name: string; env: NodeJS.ProcessEnv; logPath: string; cwd?: string; serviceAccountDir?: string; secretsDir?: string }): LabProcess {
  // With serviceAccountDir, that directory appears as /var/run/secrets/kubernetes.io/serviceaccount
  // (in the private /run), where tailscaled's kubestore and containerboot look for it. With
  // secretsDir, its files appear in /run/secrets/ (Docker secrets' layout).
  const script = 'sa=$1; sec=$2; shift 2; mount -t tmpfs -o mode=0755,size=8m cbl-run /run && ' +
    'if [ -n "$sa" ]; then mkdir -p /run/secrets/kubernetes.io && cp -r "$sa" /run/secrets/kubernetes.io/serviceaccount; fi && ' +
    'if [ -n "$sec" ]; then mkdir -p /run/secrets && cp -r "$sec"/. /run/secrets/; fi && exec "$@"';
  const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', script, 'sh', opts.serviceAccountDir ?? '', opts.secretsDir ?? '', ...argv], {
    env: opts.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new LabProcess(opts.name, child, opts.logPath);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Thrown from a waitFor() callback to stop waiting at once (e.g. the process under test exited). */
export class WaitAbort extends Error {}

/** Polls `fn` until it returns a truthy value or the timeout passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      if (e instanceof WaitAbort) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message ?? String(lastErr)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}
