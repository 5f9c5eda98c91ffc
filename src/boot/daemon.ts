// Phase 2, daemon start (§2.2): spawn tailscaled, then wait for its LocalAPI socket while the
// first LocalAPI call's code path warms up.
import { errText, log } from '../log.js';
import { DeadlineError } from '../lifecycle.js';
import { tailscaledArgs, tailscaledEnv } from '../plan/argv.js';
import { startTailscaled, type Daemon } from '../proc/tailscaled.js';
import { waitForSocket } from '../proc/waitSocket.js';
import type { Settings } from '../settings/types.js';
import { warmUpBus } from './bus.js';
import type { BootDeps } from './deps.js';
import { Fatal } from './state.js';

const CONNECT_RETRY_MS = 2_000;

export async function spawnDaemon(s: Settings): Promise<Daemon> {
  log('Starting tailscaled');
  try {
    return await startTailscaled(tailscaledArgs(s), tailscaledEnv(s));
  } catch (e) {
    throw new Fatal(`failed to bring up tailscale: ${errText(e)}`);
  }
}

export async function waitForDaemonSocket(d: Pick<BootDeps, 's' | 'lc' | 'client' | 'tasks'>, boot: AbortSignal): Promise<void> {
  const { s, lc } = d;
  log(`Waiting for tailscaled socket at ${s.socket}`);
  void warmUpBus(s.socket, AbortSignal.any([lc.life, d.tasks.signal]));
  try {
    await waitForSocket(s.socket, boot);
  } catch (e) {
    if (lc.life.aborted) throw e;
    if (e instanceof DeadlineError) throw new Fatal('failed to bring up tailscale: timed out waiting for tailscaled socket');
    throw new Fatal(`failed to bring up tailscale: ${errText(e)}`);
  }
  d.client.retryRefusedFor(CONNECT_RETRY_MS);
}
