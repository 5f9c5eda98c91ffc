// One-step mode config reload (spec §8.3): when kubelet swaps in a new version of the config
// directory and the selected file's bytes differ, ask tailscaled to reload it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errText, log } from '../log.js';
import type { LocalAPIClient } from '../localapi/client.js';
import { watchDataSwaps, type DataSwapWatchOptions } from './dataSwapWatch.js';

export interface ConfigReloadOptions {
  /** The selected cap-N.hujson (Settings.tailscaledConfigFilePath); re-read, never re-selected. */
  configFilePath: string;
  localAPI: Pick<LocalAPIClient, 'call'>;
  /** Root signal: the watch ends (resolves) when it aborts. */
  signal: AbortSignal;
  /** Tick used only when no watcher can be created (upstream's timer-only mode). */
  tickMs?: number;
  /** For tests. */
  watch?: DataSwapWatchOptions['watch'];
  /** Test hook: called once the watch is set up and the baseline read. */
  onReady?: () => void;
}

interface ReloadResponse {
  Reloaded?: boolean;
  Err?: string;
}

/**
 * Runs until `signal` aborts (resolves) or a fatal error (rejects; the orchestrator logs
 * `failed to watch tailscaled config: <message>` and exits 1).
 */
export async function runConfigReloadWatch(o: ConfigReloadOptions): Promise<void> {
  const dir = path.dirname(o.configFilePath);
  let wake: (() => void) | undefined;
  let pending = false;
  let watchError: Error | undefined;
  const poke = (): void => {
    pending = true;
    wake?.();
  };
  let watcher: { close(): Promise<void> } | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    watcher = await watchDataSwaps(dir, {
      onSwap: poke,
      onError: (err) => {
        watchError = err;
        poke();
      },
      watch: o.watch,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') throw new Error(`failed to add fsnotify watch: ${errText(err)}`);
    log(`tailscaled config watch: failed to create fsnotify watcher, timer-only mode: ${errText(err)}`);
    timer = setInterval(poke, o.tickMs ?? 5_000);
  }
  const onAbort = (): void => wake?.();
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    let baseline = await readConfig(o.configFilePath);
    o.onReady?.();
    while (!o.signal.aborted) {
      if (!pending) {
        await new Promise<void>((resolve) => { wake = resolve; });
        wake = undefined;
        if (o.signal.aborted) break;
      }
      pending = false;
      if (watchError) throw new Error(`watcher error: ${errText(watchError)}`);
      const current = await readConfig(o.configFilePath);
      if (current.equals(baseline)) continue;
      log('tailscaled config watch: ensuring that config is up to date');
      const reloaded = await reloadConfig(o.localAPI, o.signal);
      baseline = current;
      if (reloaded) log('tailscaled config watch: config was reloaded');
    }
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    if (timer) clearInterval(timer);
    await watcher?.close();
  }
}

async function readConfig(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`error reading configfile: ${errText(err)}`);
  }
}

async function reloadConfig(api: Pick<LocalAPIClient, 'call'>, signal: AbortSignal): Promise<boolean> {
  let body: ReloadResponse;
  try {
    const res = await api.call('POST', '/localapi/v0/reload-config', { signal });
    // tailscaled answers a failed reload with 200 and an empty body; Go's decoder calls that this.
    if (res.body.trim() === '') throw new Error('unexpected end of JSON input');
    body = JSON.parse(res.body) as ReloadResponse;
  } catch (err) {
    throw new Error(`error reloading tailscaled config: ${errText(err)}`);
  }
  if (body.Err) throw new Error(`error reloading tailscaled config: ${body.Err}`);
  return body.Reloaded === true;
}
