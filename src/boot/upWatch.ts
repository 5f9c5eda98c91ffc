// Always-auth login: watch #2 opened when `tailscale up` starts instead of when it exits
// (COMPATIBILITY C21). It follows the backend state while the CLI waits for Running, so that at
// the CLI's exit the state a watch opened then would report first is already known, and watch #3
// (when no post-login step runs before it) has been requested as soon as Running was seen. Only
// the latest state is kept, however long the CLI waits (an interactive login can take minutes).
import { MASK_RUN, type BusWatch } from '../localapi/ipnbus.js';
import type { StateName } from '../localapi/notify.js';
import { backendState, openWatch } from './bus.js';
import type { BootDeps } from './deps.js';

type Deps = Pick<BootDeps, 'lc' | 'client' | 'tasks' | 'metrics'>;

export interface UpWatch {
  /**
   * Called once the CLI has exited. Running: watch #2 is closed and the run loop's watch is
   * returned (if one was opened). Otherwise (another state, or the watch failed) everything is
   * closed and undefined is returned: the caller takes upstream's path and opens watch #2 now.
   */
  settle(): Promise<{ runWatch?: Promise<BusWatch> } | undefined>;
  /** Closes what it opened (the CLI failed). */
  drop(): void;
}

export function watchDuringUp(d: Deps, boot: AbortSignal, openRunWatch: boolean): UpWatch {
  /** The last state reported; undefined again once the watch has failed or closed. */
  let latest: StateName | undefined;
  let ahead: Promise<BusWatch> | undefined;
  let watch: BusWatch | undefined;
  let closed = false;
  let seen!: () => void;
  const first = new Promise<void>((r) => { seen = r; });
  const dropRunWatch = () => {
    if (ahead) void ahead.then((w) => w.close(), () => undefined);
    ahead = undefined;
  };

  void (async () => {
    try {
      watch = await openWatch(d, MASK_RUN, boot);
      if (closed) { watch.close(); return; }
      for (;;) {
        const n = await watch.next();
        const st = backendState(d, n);
        seen();
        if (st === undefined) continue;
        latest = st;
        if (st !== 'Running') dropRunWatch(); // its stream would carry this state to the run loop, which would end on it
        else if (openRunWatch && !ahead) ahead = openAhead(d);
      }
    } catch {
      latest = undefined; // closed, failed or aborted: settle() then takes upstream's path
    } finally {
      seen();
    }
  })();

  const close = () => {
    closed = true;
    watch?.close();
  };
  return {
    async settle() {
      await first;
      const running = latest === 'Running';
      close();
      if (running) return { runWatch: ahead };
      dropRunWatch();
      return undefined;
    },
    drop() {
      close();
      dropRunWatch();
    },
  };
}

/** Watch #3 for the run loop, opened now; its failure is reported when postLogin awaits it. */
function openAhead(d: Deps): Promise<BusWatch> {
  const p = openWatch(d, MASK_RUN, d.lc.life);
  p.catch(() => undefined);
  return p;
}
