// Tailscale Service auto-advertisement (spec §7.5) and the shutdown unadvertisement (§2.6 step 2).
// Upstream PATCHes prefs and then blocks the run loop for 20 s on every processed netmap; here a
// PATCH is sent only when the set of Services changes, and nobody waits after it.
import type { LocalAPIClient } from '../localapi/client.js';
import { log as defaultLog } from '../log.js';
import { parseGoBool } from '../settings/parse.js';
import { abortableSleep } from '../util/sleep.js';

type PrefsAPI = Pick<LocalAPIClient, 'getJSON' | 'sendJSON'>;

/** TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT: lenient bool, default true. */
export function autoAdvertisementEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = env.TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT;
  if (v === undefined || v === '') return true;
  return parseGoBool(v) ?? true;
}

export async function setAdvertisedServices(api: PrefsAPI, names: string[] | null, signal?: AbortSignal): Promise<void> {
  await api.sendJSON('PATCH', '/localapi/v0/prefs', { AdvertiseServices: names, AdvertiseServicesSet: true }, signal);
}

export class ServiceAdvertiser {
  /** Sorted names last PATCHed; undefined until the first PATCH. */
  private advertised: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;
  private appliedSeq = 0;

  constructor(private readonly api: PrefsAPI) {}

  /**
   * A ticket to take before reading a source of Service names (e.g. before GET serve-config).
   * An `ensure` carrying an older ticket than one already handled is stale and ignored, so a
   * slow read of tailscaled's config cannot undo what the serve watcher just advertised.
   */
  observe(): number {
    return ++this.seq;
  }

  /**
   * Makes `names` the advertised Services. Nothing is sent when the set is unchanged, or when it
   * is empty and nothing was advertised by us (upstream leaves prefs alone then). Calls are
   * serialized; errors carry upstream's fatal message.
   */
  ensure(names: string[], signal?: AbortSignal, ticket = this.observe()): Promise<void> {
    const run = async (): Promise<void> => {
      if (ticket < this.appliedSeq) return;
      this.appliedSeq = ticket;
      const sorted = [...new Set(names)].sort();
      const key = sorted.join('\n');
      if (key === this.advertised) return;
      if (sorted.length === 0 && (this.advertised === undefined || this.advertised === '')) return;
      try {
        await setAdvertisedServices(this.api, sorted, signal);
      } catch (e) {
        throw new Error(`autoadvertisement: failed to refresh advertise services: failed to ensure services advertised: error setting prefs AdvertiseServices: ${(e as Error).message}`);
      }
      this.advertised = key;
    };
    const p = this.queue.then(run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

export interface UnadvertiseOptions {
  log?: (msg: string) => void;
  /** Time given to the tailnet to see the change before tailscaled stops (upstream 20 s). */
  waitMs?: number;
}

/**
 * Shutdown step: if tailscaled advertises any Services, stop advertising them and give clients
 * up to `waitMs` (bounded by `signal`) to move elsewhere. Throws on LocalAPI errors; the caller
 * logs `Error ensuring services are not advertised: <err>`.
 */
export async function unadvertiseServices(api: PrefsAPI, signal: AbortSignal, opts: UnadvertiseOptions = {}): Promise<void> {
  const log = opts.log ?? defaultLog;
  const prefs = await api.getJSON<{ AdvertiseServices?: string[] | null }>('/localapi/v0/prefs', signal);
  const svcs = prefs?.AdvertiseServices ?? [];
  if (svcs.length === 0) return;
  log(`unadvertising services: [${svcs.join(' ')}]`);
  await setAdvertisedServices(api, null, signal);
  await abortableSleep(opts.waitMs ?? 20_000, signal);
}
