// Runs the `tailscale` CLI (PATH lookup, inherited stdio). Killed with SIGKILL when `signal` aborts,
// like Go's exec.CommandContext.
import { spawn } from 'node:child_process';
import { describeExit } from './tailscaled.js';
import { execErrorText } from './execError.js';

export class CLIError extends Error {}

export function runTailscaleCLI(args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason instanceof Error ? signal.reason : new Error('context canceled')); return; }
    const child = spawn('tailscale', args, { stdio: 'inherit' });
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort);
    child.once('error', (e) => { signal?.removeEventListener('abort', onAbort); reject(new CLIError(execErrorText('tailscale', e))); });
    child.once('exit', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) { reject(signal.reason instanceof Error ? signal.reason : new Error('context canceled')); return; }
      if (code === 0) resolve();
      else reject(new CLIError(describeExit({ code, signal: sig })));
    });
  });
}
