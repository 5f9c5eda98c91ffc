// Auth-key reissue (spec §4.6): in one-step mode with a state Secret, a rejected or missing key
// makes containerboot disconnect from control, ask the operator for a new key through the Secret,
// and wait for kubelet to deliver a config with a different AuthKey. The caller then shuts down and
// exits 0 so the container restarts with the new config.
import path from 'node:path';
import { errText, log, registerSecret } from '../log.js';
import type { LocalAPIClient } from '../localapi/client.js';
import { formatGoDuration as goDuration } from '../settings/parse.js';
import { readAuthKeyFromConfigFile } from '../settings/configDir.js';
import { watchDataSwaps, type DataSwapWatchOptions } from './dataSwapWatch.js';
import type { KubeStateStore } from './facade.js';
import { reissueClearData } from './reset.js';
import { withRetry } from './retry.js';
import { isTransient } from './status.js';

export const REISSUE_LIMIT_MS = 10 * 60_000;
export const REISSUE_TICK_MS = 5_000;

export interface ReissueOptions {
  store: Pick<KubeStateStore, 'patchKeys' | 'getSecret'>;
  localAPI: Pick<LocalAPIClient, 'call'>;
  /** The selected cap-N.hujson. */
  configFilePath: string;
  /** The config's AuthKey at boot (the failing key, possibly ''). */
  oldAuthKey: string;
  /** Root signal (not the boot timeout). */
  signal: AbortSignal;
  tickMs?: number;
  limitMs?: number;
  /** For tests. */
  watch?: DataSwapWatchOptions['watch'];
}

/**
 * Resolves once a new key arrived and the request was cleared. Rejects with a message the
 * orchestrator prefixes with `failed to get a reissued authkey: ` (exit 1), or with an AbortError
 * when `signal` aborts.
 */
export async function reissueAuthKey(o: ReissueOptions): Promise<void> {
  registerSecret(o.oldAuthKey);
  try {
    await o.localAPI.call('POST', '/localapi/v0/disconnect-control', { signal: o.signal });
  } catch (err) {
    if (o.signal.aborted) throw canceled();
    throw new Error(`error disconnecting from control: ${errText(err)}`);
  }
  log('Requesting a new auth key from operator');
  try {
    await withRetry(() => o.store.patchKeys({ reissue_authkey: o.oldAuthKey }, o.signal), {
      what: 'requesting a new auth key from operator', signal: o.signal, budgetMs: 30_000, retryable: isTransient,
    });
  } catch (err) {
    if (o.signal.aborted) throw canceled();
    throw new Error(`error requesting a new auth key via the state Secret: ${errText(err)}`);
  }
  await waitForNewKey(o);
  try {
    const current = await o.store.getSecret(o.signal);
    if (current !== undefined) await o.store.patchKeys(reissueClearData(current), o.signal);
  } catch (err) {
    log(`Warning: failed to clear reissue request: ${errText(err)}`);
  }
  // The caller logs `Successfully received new auth key, restarting to apply configuration` and exits 0.
}

async function waitForNewKey(o: ReissueOptions): Promise<void> {
  const limit = o.limitMs ?? REISSUE_LIMIT_MS;
  const start = Date.now();
  let wake: (() => void) | undefined;
  const poke = (): void => wake?.();
  let polling = false;
  let watcher: { close(): Promise<void> } | undefined;
  try {
    watcher = await watchDataSwaps(path.dirname(o.configFilePath), {
      onSwap: poke,
      // A watcher that breaks later leaves the tick, which alone is enough.
      onError: (err) => {
        if (!polling) log(`auth key reissue: fsnotify watch failed, using polling: ${errText(err)}`);
        polling = true;
      },
      watch: o.watch,
    });
    log('auth key reissue: watching for config changes via fsnotify');
  } catch (err) {
    polling = true;
    log(`auth key reissue: fsnotify watch failed, using polling: ${errText(err)}`);
  }
  log(`Waiting for operator to provide new auth key (max wait: ${goDuration(limit)})`);
  const ticker = setInterval(poke, o.tickMs ?? REISSUE_TICK_MS);
  const deadline = setTimeout(poke, limit);
  o.signal.addEventListener('abort', poke, { once: true });
  try {
    for (;;) {
      if (!o.signal.aborted) await new Promise<void>((resolve) => { wake = resolve; });
      wake = undefined;
      if (o.signal.aborted) throw canceled();
      const elapsed = Date.now() - start;
      const key = readAuthKeyFromConfigFile(o.configFilePath);
      if (key !== '' && key !== o.oldAuthKey) {
        registerSecret(key);
        log(`New auth key received from operator after ${goDuration(elapsed)}`);
        return;
      }
      if (elapsed >= limit) throw new Error(`failed to receive new auth key: timeout waiting for auth key reissue after ${goDuration(limit)}`);
      if (polling) log(`Waiting for new auth key from operator (${goDuration(Math.round(elapsed / 1000) * 1000)} elapsed)`);
    }
  } finally {
    o.signal.removeEventListener('abort', poke);
    clearInterval(ticker);
    clearTimeout(deadline);
    await watcher?.close();
  }
}

function canceled(): Error {
  const e = new Error('context canceled');
  e.name = 'AbortError';
  return e;
}
