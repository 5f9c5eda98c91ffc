// Phase 6, shutdown (§2.6, §2.7): the shutdown routine (at most once), and the mapping from the
// error that ended the run to cleanup, log lines and the exit code.
import { errText, log } from '../log.js';
import { Lifecycle } from '../lifecycle.js';
import { describeExit, exitCodeOf } from '../proc/tailscaled.js';
import { isOneStepConfig } from '../settings/types.js';
import { sleep } from '../util/sleep.js';
import type { BootDeps } from './deps.js';
import { closeServers } from './http.js';
import { CancelledExit, type BootState } from './state.js';

const LOGOUT_TIMEOUT_MS = 5_000;
const DAEMON_EXIT_GRACE_MS = 300;
const SHUTDOWN_BUDGET_MS = 25_000;

type ShutdownDeps = Pick<BootDeps, 's' | 'client'>;

/** Maps the error that ended the run to cleanup, logs and an exit code. */
export async function exitFor(d: Pick<BootDeps, 's' | 'client' | 'lc' | 'tasks'>, st: BootState, e: unknown): Promise<number> {
  if (e instanceof CancelledExit) return 0;
  const { lc } = d;
  const err = d.tasks.error ?? e;
  // A dying tailscaled usually shows first as a broken bus or LocalAPI connection; give its exit
  // a moment to arrive so the death, not its symptom, decides the exit code.
  if (st.daemon && !lc.root.signal.aborted && !lc.died.signal.aborted) {
    await Promise.race([st.daemon.exited, sleep(DAEMON_EXIT_GRACE_MS)]);
  }
  if (lc.died.signal.aborted && !lc.root.signal.aborted) {
    const info = await st.daemon!.exited;
    await closeServers(st);
    log('tailscaled exited');
    // Deliberate fix (#17650): an unexpected tailscaled exit is a failure, never exit 0.
    const code = exitCodeOf(info) || 1;
    log(`tailscaled exited unexpectedly (${describeExit(info)}); exiting with code ${code}`);
    return code;
  }
  await closeServers(st);
  // A clean exit (SIGTERM/SIGINT, nothing failed) removes our firewall rules; any other exit keeps
  // them, so a crash-restart keeps forwarding until the next start reconciles them.
  if (st.daemon) await shutdown(d, st, lc.root.signal.aborted && !d.tasks.error);
  // Whatever failed after the first SIGTERM/SIGINT is a consequence of the cancellation.
  if (lc.root.signal.aborted && !d.tasks.error) return 0;
  log(errText(err));
  return 1;
}

/** Graceful exit on purpose (auth-key reissue success): servers, shutdown routine, then exit 0. */
export async function exitGracefully(d: ShutdownDeps, st: BootState): Promise<never> {
  await closeServers(st);
  await shutdown(d, st);
  throw new CancelledExit();
}

/**
 * The shutdown routine (§2.6), run at most once. `removeRules`: after tailscaled has exited, remove
 * every firewall rule and chain of ours in one batch (deliberate: upstream leaves its rules behind,
 * and the next program in the same network namespace stacked its own beside them).
 */
export function shutdown(d: ShutdownDeps, st: BootState, removeRules = false): Promise<void> {
  st.shutdown ??= runShutdown(d, st, removeRules);
  return st.shutdown;
}

async function removeFirewallRules(st: BootState): Promise<void> {
  if (!st.firewall) return;
  try {
    await st.firewall.removeAll();
  } catch (e) {
    log(`Error removing firewall rules: ${errText(e)}`);
  }
}

async function runShutdown(d: ShutdownDeps, st: BootState, removeRules: boolean): Promise<void> {
  const { s } = d;
  const daemon = st.daemon!;
  st.proxies?.close();
  const budget = Lifecycle.budget(SHUTDOWN_BUDGET_MS);
  try {
    if (!daemon.hasExited()) {
      if (st.services) {
        try { await st.services.onShutdown(budget.signal); } catch (e) {
          log(`Error ensuring services are not advertised: ${errText(e)}`);
        }
      }
      // In-memory state: log out so an ephemeral node leaves the tailnet now (upstream #14805).
      // Not in one-step mode: its config file is locked and tailscaled refuses the logout.
      if (st.stage !== 'booting' && s.stateDir === '' && s.kubeSecret === '' && !isOneStepConfig(s)) {
        log('Logging out: tailscaled state is in memory, so this node cannot be reused after exit');
        const t = Lifecycle.budget(LOGOUT_TIMEOUT_MS);
        try {
          await d.client.call('POST', '/localapi/v0/logout', { signal: AbortSignal.any([t.signal, budget.signal]) });
        } catch (e) {
          log(`Error logging out: ${errText(e)}`);
        } finally {
          t.clear();
        }
      }
      if (st.stateStore) {
        log('Checking for consistent state');
        await st.stateStore.waitConsistentState(budget.signal);
      }
    }
    st.services?.close();
    log('Sending SIGTERM to tailscaled');
    daemon.signal('SIGTERM');
    await daemon.exited;
  } finally {
    budget.clear();
    if (removeRules) await removeFirewallRules(st);
    st.firewall?.close();
  }
}
