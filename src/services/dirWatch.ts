// Watches one directory for any change and calls `onChange`. Kubelet updates mounted
// ConfigMaps/Secrets by swapping the `..data` symlink, which changes no watched file's content,
// so raw directory events count as well. If a watcher cannot be created or fails later, a
// periodic tick takes over (upstream's 5 s fallback).
import { stat } from 'node:fs/promises';
import chokidar from 'chokidar';

export interface DirWatchOptions {
  /** Called when watching is impossible and the tick takes over. */
  onFallback: (err: Error) => void;
  /** Called on every tick in fallback mode. */
  onTick: () => void;
  tickMs?: number;
  /** For tests: replaces chokidar.watch. */
  watch?: typeof chokidar.watch;
}

export interface DirWatch {
  readonly mode: 'watch' | 'tick';
  close(): Promise<void>;
}

export const DEFAULT_TICK_MS = 5_000;

/**
 * Starts watching `dir`. Throws `failed to add fsnotify watch: <err>` when the directory
 * cannot be watched because it does not exist (upstream treats that as fatal).
 */
export async function watchDir(dir: string, onChange: (via: 'watch' | 'tick') => void, opts: DirWatchOptions): Promise<DirWatch> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  } catch (e) {
    throw new Error(`failed to add fsnotify watch: ${(e as Error).message}`);
  }
  let timer: NodeJS.Timeout | undefined;
  let mode: 'watch' | 'tick' = 'watch';
  const startTick = (err: Error): void => {
    if (timer !== undefined) return;
    mode = 'tick';
    opts.onFallback(err);
    timer = setInterval(() => { opts.onTick(); onChange('tick'); }, opts.tickMs ?? DEFAULT_TICK_MS);
    timer.unref?.();
  };
  let watcher: ReturnType<typeof chokidar.watch> | undefined;
  try {
    watcher = (opts.watch ?? chokidar.watch)(dir, { ignoreInitial: true, depth: 0, followSymlinks: false, persistent: false });
    watcher.on('all', () => onChange('watch'));
    watcher.on('raw', () => onChange('watch'));
    await new Promise<void>((resolve, reject) => {
      watcher!.once('ready', resolve);
      watcher!.once('error', reject);
    });
    watcher.on('error', (err) => {
      void watcher?.close();
      watcher = undefined;
      startTick(err as Error);
    });
  } catch (e) {
    void watcher?.close();
    watcher = undefined;
    startTick(e as Error);
  }
  return {
    get mode() { return mode; },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      await watcher?.close();
    },
  };
}
