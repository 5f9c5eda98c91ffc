// Runs the built bin/containerboot as a process against the fake LocalAPI and fake
// tailscaled/tailscale executables, and lets a test drive it phase by phase.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeLocalAPI } from './fakeLocalAPI.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(REPO, 'bin/containerboot');
/**
 * Directory with the stand-ins `tailscaled` and `tailscale` (tiny sh wrappers around fakeDaemon.cjs
 * and fakeCli.cjs), generated here rather than committed: the repository holds no files named like
 * the real programs. Written atomically, so parallel test workers can all call this.
 */
function writeFakeBin(): string {
  const dir = path.join(REPO, '.lab', 'fakebin');
  mkdirSync(dir, { recursive: true });
  for (const [name, target] of [['tailscaled', 'fakeDaemon.cjs'], ['tailscale', 'fakeCli.cjs']]) {
    const file = path.join(dir, name);
    const text = `#!/bin/sh\nexec node "${path.join(REPO, 'test/support', target)}" "$@"\n`;
    if (existsSync(file) && readFileSync(file, 'utf8') === text) continue;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o755 });
    renameSync(tmp, file);
  }
  return dir;
}

export const FAKE_BIN = writeFakeBin();

export interface Invocation {
  prog: 'tailscale' | 'tailscaled';
  args?: string[];
  pid: number;
  event?: string;
  certShareMode?: string | null;
  glibcTunables?: string | null;
  tunablesMark?: string | null;
}

export interface ScenarioOptions {
  env?: Record<string, string>;
  /** Start the fake LocalAPI only when the test says so (socket-wait tests). */
  deferLocalAPI?: boolean;
  /** Extra argv before bin/containerboot (e.g. unshare). */
  wrap?: string[];
  /** Kernel-mode test root contents: create dev/net/tun and sysctl files (default true). */
  prepareRoot?: boolean;
}

export class Scenario {
  readonly dir: string;
  readonly root: string;
  readonly socket: string;
  readonly fakeLog: string;
  readonly api: FakeLocalAPI;
  readonly lines: string[] = [];
  proc!: ChildProcess;
  exit!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters = new Set<() => void>();
  private cleaned = false;

  constructor(private readonly opts: ScenarioOptions = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'cb-scn-'));
    this.root = path.join(this.dir, 'root');
    this.socket = path.join(this.dir, 'run', 'tailscaled.sock');
    this.fakeLog = path.join(this.dir, 'invocations.ndjson');
    mkdirSync(path.dirname(this.socket), { recursive: true });
    writeFileSync(this.fakeLog, '');
    if (opts.prepareRoot !== false) {
      mkdirSync(path.join(this.root, 'dev/net'), { recursive: true });
      writeFileSync(path.join(this.root, 'dev/net/tun'), '');
      mkdirSync(path.join(this.root, 'proc/sys/net/ipv4'), { recursive: true });
      mkdirSync(path.join(this.root, 'proc/sys/net/ipv6/conf/all'), { recursive: true });
      writeFileSync(path.join(this.root, 'proc/sys/net/ipv4/ip_forward'), '0');
      writeFileSync(path.join(this.root, 'proc/sys/net/ipv6/conf/all/forwarding'), '0');
    }
    this.api = new FakeLocalAPI(this.socket);
  }

  get env(): Record<string, string> {
    return {
      PATH: `${FAKE_BIN}:${process.env.PATH}`,
      HOME: this.dir,
      FAKE_LOG: this.fakeLog,
      TS_TEST_ONLY_ROOT: this.root,
      TS_SOCKET: this.socket,
      TS_TEST_FAKE_NETFILTER: 'true',
      ...this.opts.env,
    };
  }

  async start(): Promise<this> {
    if (!existsSync(path.join(REPO, 'dist/containerboot.cjs'))) throw new Error('dist/containerboot.cjs missing: run `npm run build` first');
    const argv = [...(this.opts.wrap ?? []), BIN];
    this.proc = spawn(argv[0], argv.slice(1), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (buf: Buffer) => {
      for (const l of buf.toString('utf8').split('\n')) if (l !== '') this.lines.push(l);
      for (const w of [...this.waiters]) w();
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
    // 'exit' can fire before the last stderr bytes are read; wait for the pipes to drain, but not
    // forever: a detached fake tailscaled that outlives containerboot still holds them open.
    const drained = Promise.all([this.proc.stdout!, this.proc.stderr!].map((st) => new Promise<void>((r) => st.once('end', () => r()))));
    this.exit = new Promise((resolve) => this.proc.once('exit', (code, signal) => {
      void Promise.race([drained, new Promise((r) => setTimeout(r, 500))]).then(() => {
        for (const w of [...this.waiters]) w();
        resolve({ code, signal });
      });
    }));
    // Like the real daemon, the socket appears only once tailscaled runs.
    if (!this.opts.deferLocalAPI) {
      // A process killed by a signal has exitCode null and signalCode set; after cleanup() the
      // scenario directory (and its invocation log) is gone, so stop polling then as well.
      const ended = () => this.cleaned || this.proc.exitCode !== null || this.proc.signalCode !== null;
      void this.waitFor(() => ended() || this.daemonPid() !== undefined, 'tailscaled start', 30_000)
        .then(() => { if (!ended()) return this.api.listen(); })
        .catch(() => {});
    }
    return this;
  }

  /** All recorded invocations of the fake binaries, in order. */
  invocations(): Invocation[] {
    return readFileSync(this.fakeLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Invocation);
  }

  /** argv lines like upstream's test expectations: `tailscaled --socket=…`. */
  commands(): string[] {
    return this.invocations().filter((i) => i.args).map((i) => [i.prog, ...i.args!].join(' '));
  }

  daemonPid(): number | undefined {
    return this.invocations().find((i) => i.prog === 'tailscaled' && i.args)?.pid;
  }

  /** Log messages with the `boot: <timestamp> ` prefix removed. */
  messages(): string[] {
    return this.lines.filter((l) => l.startsWith('boot: ')).map((l) => l.replace(/^boot: \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
  }

  hasLog(suffix: string): boolean {
    return this.lines.some((l) => l.startsWith('boot: ') && l.endsWith(` ${suffix}`));
  }

  async waitFor(pred: () => boolean, what: string, timeoutMs = 25_000): Promise<void> {
    if (pred()) return;
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(check, 50);
      const t = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}; log:\n${this.lines.join('\n')}`)); }, timeoutMs);
      const done = () => { clearTimeout(t); clearInterval(poll); this.waiters.delete(check); };
      function check() {
        let ok: boolean;
        try { ok = pred(); } catch (e) { done(); reject(e as Error); return; }
        if (ok) { done(); resolve(); }
      }
      this.waiters.add(check);
    });
  }

  waitLog(suffix: string, timeoutMs = 25_000): Promise<void> {
    return this.waitFor(() => this.hasLog(suffix), `log line "${suffix}"`, timeoutMs);
  }

  waitCommands(n: number, timeoutMs = 25_000): Promise<void> {
    return this.waitFor(() => this.commands().length >= n, `${n} recorded commands (have ${JSON.stringify(this.commands())})`, timeoutMs);
  }

  async waitExit(timeoutMs = 25_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`containerboot did not exit within ${timeoutMs} ms; log:\n${this.lines.join('\n')}`)), timeoutMs); });
    try { return await Promise.race([this.exit, timeout]); } finally { clearTimeout(t); }
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  /** Kills what is still running (containerboot, fake tailscaled) by PID and removes temp files. */
  async cleanup(): Promise<void> {
    this.cleaned = true;
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    if (this.proc) await this.exit;
    // In a PID namespace the recorded PIDs are namespace-local (not ours to kill by number); the
    // kernel ends every process there when containerboot, its init, exits.
    const pidNamespace = this.opts.wrap?.includes('--pid') ?? false;
    for (const inv of pidNamespace ? [] : this.invocations()) {
      if (inv.prog === 'tailscaled' && inv.args) {
        try { process.kill(inv.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    await this.api.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A typical Running node for netmap pushes. */
export function selfNode(over: Partial<{ ID: number | string; StableID: string; Name: string; Addresses: string[] }> = {}) {
  return { ID: 1, StableID: 'nSelf1CNTRL', Name: 'test-node.test.ts.net.', Addresses: ['100.64.0.1/32'], AllowedIPs: ['100.64.0.1/32'], ...over };
}

/** Brings the fake to Running with a netmap, the way the real daemon would after `up`. */
export function goRunning(api: FakeLocalAPI, self = selfNode()): void {
  api.self = self;
  api.setState('Running');
  api.sendNetmap();
}
