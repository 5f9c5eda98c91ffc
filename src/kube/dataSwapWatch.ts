// Kubelet updates a mounted Secret by writing a new timestamped directory and renaming a `..data`
// symlink over the old one; the visible file names never change. So only events on
// `<dir>/..data` mean "the config changed" (spec §4.6 step 3, §8.3).
import { stat } from 'node:fs/promises';
import path from 'node:path';
import chokidar from 'chokidar';

export interface DataSwapWatch {
  close(): Promise<void>;
}

export interface DataSwapWatchOptions {
  onSwap: () => void;
  /** Errors reported by the watcher after it started. */
  onError: (err: Error) => void;
  /** For tests: replaces chokidar.watch. */
  watch?: typeof chokidar.watch;
}

/** Starts watching; rejects when the directory cannot be watched (missing, not a directory, watcher failure). */
export async function watchDataSwaps(dir: string, o: DataSwapWatchOptions): Promise<DataSwapWatch> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const target = path.join(dir, '..data');
  const w = (o.watch ?? chokidar.watch)(dir, { depth: 0, ignoreInitial: true, followSymlinks: false, atomic: false, persistent: false });
  let ready = false;
  try {
    await new Promise<void>((resolve, reject) => {
      w.once('ready', resolve);
      w.once('error', reject);
    });
  } catch (err) {
    await w.close();
    throw err;
  }
  ready = true;
  // chokidar reports symlinks it finds while scanning even with ignoreInitial: count only later events.
  w.on('all', (_event, p) => {
    if (ready && p === target) o.onSwap();
  });
  w.on('error', (err) => o.onError(err as Error));
  return { close: () => w.close() };
}
