// Waits for tailscaled's LocalAPI socket file. Event-driven (fs.watch on its directory) instead of
// upstream's 100 ms polling; a stale socket file satisfies the wait at once, as upstream.
import { watch, statSync, type FSWatcher } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export class SocketWaitError extends Error {}

function exists(p: string): boolean {
  try { statSync(p); return true; } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new SocketWaitError(`error waiting for tailscaled socket: ${(e as Error).message}`);
  }
}

/**
 * Resolves when `socketPath` exists and accepts connections (a socket file exists from bind(),
 * before listen(); reacting to the file event alone can hit that gap). Rejects when `signal`
 * aborts or stat fails oddly. A stale socket file that refuses connections satisfies the wait
 * after 2 s, as upstream's existence-only check would, so callers see the real connect error.
 */
export async function waitForSocket(socketPath: string, signal: AbortSignal): Promise<void> {
  await waitForSocketFile(socketPath, signal);
  const until = performance.now() + 2_000;
  while (!(await accepts(socketPath)) && performance.now() < until && !signal.aborted) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

function accepts(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
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
