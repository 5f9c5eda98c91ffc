// IPN bus access shared by the login phase and the run loop: opening a watch, reading the next
// notification, and mapping their failures to upstream's fatal texts.
import { errText } from '../log.js';
import { LocalAPIClient } from '../localapi/client.js';
import { BusWatch, MASK_BOOT } from '../localapi/ipnbus.js';
import { effectiveState, STATE_NAMES, type Notify, type StateName } from '../localapi/notify.js';
import type { BootDeps } from './deps.js';
import { Fatal } from './state.js';

type BusDeps = Pick<BootDeps, 'client' | 'lc' | 'tasks' | 'metrics'>;

/** `signal` or the task failure, made once per pair: the boot opens several watches on each. */
const combined = new WeakMap<AbortSignal, WeakMap<AbortSignal, AbortSignal>>();
function withTasks(signal: AbortSignal, tasks: AbortSignal): AbortSignal {
  let byTasks = combined.get(signal);
  if (byTasks === undefined) combined.set(signal, byTasks = new WeakMap());
  let s = byTasks.get(tasks);
  if (s === undefined) byTasks.set(tasks, s = AbortSignal.any([signal, tasks]));
  return s;
}

export async function openWatch(d: BusDeps, mask: number, signal: AbortSignal): Promise<BusWatch> {
  try {
    const w = await BusWatch.open(d.client, mask, withTasks(signal, d.tasks.signal));
    d.metrics.watchOpens++;
    return w;
  } catch (e) {
    if (d.lc.life.aborted) throw d.lc.life.reason;
    throw new Fatal(`failed to watch tailscaled for updates: ${errText(e)}`);
  }
}

export async function readBus(d: Pick<BootDeps, 'lc' | 'tasks'>, w: BusWatch): Promise<Notify> {
  try {
    return await w.next();
  } catch (e) {
    if (d.tasks.error) throw d.tasks.error;
    if (d.lc.life.aborted) throw d.lc.life.reason;
    throw new Fatal(`failed to read from tailscaled: ${errText(e)}`);
  }
}

/** The notification's effective backend state, also recorded in the metrics. */
export function backendState(d: Pick<BootDeps, 'metrics'>, n: Notify): StateName | undefined {
  const st = effectiveState(n);
  if (st !== undefined) d.metrics.backendState = STATE_NAMES.indexOf(st);
  return st;
}

/**
 * While tailscaled starts: run the first LocalAPI call's code path (BusWatch.open, the client,
 * Node's HTTP client) against a socket path that does not exist, so that the real first call
 * after the socket appears runs compiled code (docs/PERFORMANCE.md, socket → first request).
 */
export async function warmUpBus(socket: string, signal: AbortSignal): Promise<void> {
  const probe = new LocalAPIClient(`${socket}.cb-warmup-nonexistent`);
  // A few rounds: V8 optimises what runs repeatedly (measured: 1st call 6 ms, 2nd 1.8 ms, later 0.6 ms).
  for (let i = 0; i < 3; i++) {
    try {
      await BusWatch.open(probe, MASK_BOOT, signal);
    } catch { /* ENOENT: nothing listens there, by design */ }
  }
  probe.close();
}
