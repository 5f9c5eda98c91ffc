// Minimal process runner for the iptables backend and mode detection; counts spawns so tests and
// benchmarks can check the "one process per family per reconcile" budget.
import { spawn } from 'node:child_process';
import { monotonicMs } from '../util/lean.js';
import { execErrorText } from '../proc/execError.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

export type Runner = (cmd: string, args: string[], stdin?: string) => Promise<RunResult>;

/** Processes started and their wall time (tests check the spawn budget; benchmarks split time). */
export const spawnStats = { count: 0, ms: 0 };

/** Runs a program found through PATH; rejects with NotFoundError if it does not exist. */
export const runProcess: Runner = (cmd, args, stdin) =>
  new Promise((resolve, reject) => {
    spawnStats.count++;
    const t0 = monotonicMs();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? new NotFoundError(execErrorText(cmd, e)) : e);
    });
    child.on('close', (code, signal) => {
      spawnStats.ms += monotonicMs() - t0;
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // EPIPE if the tool exits early; its exit status reports the real problem.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
