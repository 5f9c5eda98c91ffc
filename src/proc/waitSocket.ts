// Waits for tailscaled's LocalAPI socket file. Event-driven (fs.watch on its directory) instead of
// upstream's 100 ms polling; a stale socket file satisfies the wait at once, as upstream.
import { watch, statSync, type FSWatcher } from 'node:fs';
import path from 'node:path';

export class SocketWaitError extends Error {}

function exists(p: string): boolean {
  try { statSync(p); return true; } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new SocketWaitError(`error waiting for tailscaled socket: ${(e as Error).message}`);
  }
}

/**
 * Resolves when `socketPath` exists; rejects when `signal` aborts or stat fails oddly. The file
 * exists from bind(), before listen(): the LocalAPI client retries refused connects for a moment
 * (LocalAPIClient.retryRefusedFor), which is cheaper than a separate connect probe here.
 */
export function waitForSocket(socketPath: string, signal: AbortSignal): Promise<void> {
  return waitForSocketFile(socketPath, signal);
}

function waitForSocketFile(socketPath: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    let poll: NodeJS.Timeout | undefined;
    const done = (err?: Error) => {
      watcher?.close();
      if (poll) clearInterval(poll);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err); else resolve();
    };
    const check = () => {
      try { if (exists(socketPath)) done(); } catch (e) { done(e as Error); }
    };
    const onAbort = () => done(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    try {
      watcher = watch(path.dirname(socketPath), { persistent: false }, () => check());
      watcher.on('error', () => { watcher?.close(); watcher = undefined; poll ??= setInterval(check, 100); });
    } catch {
      // The directory does not exist yet: poll until it (and the socket) appear.
      poll = setInterval(check, 100);
    }
    check();
  });
}
