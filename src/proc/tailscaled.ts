// Starts tailscaled (PATH lookup, own process group, inherited stdio/env) and reports its exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { doctorHint } from '../util/doctorHint.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  hasExited(): boolean;
  signal(sig: NodeJS.Signals): void;
}

/** Spawns tailscaled; rejects if it cannot be started (e.g. not on PATH). */
export function startTailscaled(args: string[], extraEnv: Record<string, string>): Promise<Daemon> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('tailscaled', args, {
        stdio: 'inherit',
        // detached = setsid(): tailscaled gets its own process group, like upstream's Setpgid.
        detached: true,
        env: { ...process.env, ...extraEnv },
      });
    } catch (e) {
      reject(e);
      return;
    }
    let exitInfo: ExitInfo | undefined;
    const exited = new Promise<ExitInfo>((res) => {
      child.once('exit', (code, signal) => { exitInfo = { code, signal }; res(exitInfo); });
    });
    child.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`starting tailscaled failed: ${e.message}${e.code === 'ENOENT' ? doctorHint('tailscaled') : ''}`)));
    child.once('spawn', () => {
      resolve({
        pid: child.pid!,
        exited,
        hasExited: () => exitInfo !== undefined,
        signal: (sig) => { if (!exitInfo) child.kill(sig); },
      });
    });
  });
}

/** Exit code a supervisor reports for a child: its code, or 128+signal number. */
export function exitCodeOf(e: ExitInfo): number {
  if (e.code !== null) return e.code;
  const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return 128 + (e.signal ? signals[e.signal] ?? 0 : 0);
}

export function describeExit(e: ExitInfo): string {
  return e.code !== null ? `exit status ${e.code}` : `signal: ${e.signal === 'SIGKILL' ? 'killed' : e.signal}`;
}
