// The one record that spans boot phases, and what is derived from it (/healthz, /readyz, /livez).
// Each phase returns its results; the orchestrator (and the run loop, for per-netmap outcomes)
// writes them here, so probes and the shutdown routine see one consistent picture.
import { log } from '../log.js';
import { CancelledError } from '../lifecycle.js';
import type { RunningServer } from '../http/routes.js';
import type { Firewall } from '../firewall/types.js';
import type { KubeStateStore } from '../kube/facade.js';
import type { Daemon } from '../proc/tailscaled.js';
import type { NetmapConsumer, Services } from './types.js';

/** A boot step failed: its message (already prefixed as upstream's) is logged and the exit is 1. */
export class Fatal extends Error {}

/** Thrown to leave the boot flow after a completed graceful exit (auth-key reissue success). */
export class CancelledExit extends CancelledError {}

/** 'booting' until tailscaled reports Running, 'running' until "Startup complete", then 'started'. */
export type Stage = 'booting' | 'running' | 'started';

export interface BootState {
  stage: Stage;
  /** Whether the last netmap processing succeeded. */
  lastReconcileOk: boolean;
  /** The node has tailnet addresses (as of the last processed netmap). */
  healthy: boolean;
  /** tailscaled, once spawned. */
  daemon?: Daemon;
  /** HTTP servers still open (closed before the shutdown routine). */
  servers: RunningServer[];
  /** The state Secret when it can be written (upstream's hasKubeStateStore). */
  stateStore?: KubeStateStore;
  firewall?: Firewall;
  proxies?: NetmapConsumer;
  services?: Services;
  /** The shutdown routine once started: it runs at most once. */
  shutdown?: Promise<void>;
}

export function newBootState(): BootState {
  return { stage: 'booting', lastReconcileOk: true, healthy: false, servers: [] };
}

/** Records the health /healthz reports; a change is logged only where /healthz is served, as upstream. */
export function setHealthy(st: BootState, healthy: boolean, served: boolean): void {
  if (served && healthy !== st.healthy) log(`Setting healthy ${healthy}`);
  st.healthy = healthy;
}

export interface Probe { ok: boolean; reason: string }

export function readiness(st: BootState): Probe {
  if (st.stage === 'booting') return { ok: false, reason: 'tailscaled is not Running yet' };
  if (st.stage === 'running') return { ok: false, reason: 'startup not complete (rules or device info pending)' };
  if (!st.lastReconcileOk) return { ok: false, reason: 'last netmap processing failed' };
  return { ok: true, reason: '' };
}

export function liveness(st: BootState, died: AbortSignal): Probe {
  return { ok: !!st.daemon && !st.daemon.hasExited() && !died.aborted, reason: 'tailscaled is not running' };
}

/** The first failure of a background task (config watch, services, HTTP server) ends the run. */
export class TaskFailure {
  private readonly ac = new AbortController();
  private first?: Error;

  get error(): Error | undefined { return this.first; }
  /** Aborted with the first failure. */
  get signal(): AbortSignal { return this.ac.signal; }

  readonly fail = (err: Error): void => {
    if (this.first) return;
    this.first = err;
    this.ac.abort(err);
  };
}
