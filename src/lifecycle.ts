// Cancellation plumbing: the root context (first SIGTERM/SIGINT), tailscaled's unexpected death,
// and the boot deadline, as AbortSignals whose reasons carry Go-compatible error texts.

/** The root context was cancelled by a signal (Go: context.Canceled). */
export class CancelledError extends Error {
  constructor() { super('context canceled'); }
}

/** The boot deadline passed (Go: context.DeadlineExceeded). */
export class DeadlineError extends Error {
  constructor() { super('context deadline exceeded'); }
}

/** tailscaled exited while we still needed it. */
export class DaemonExitedError extends Error {}

export class Lifecycle {
  readonly root = new AbortController();
  readonly died = new AbortController();
  /** Aborted on the first signal or when tailscaled dies. */
  readonly life: AbortSignal;
  private handler = () => { if (!this.root.signal.aborted) this.root.abort(new CancelledError()); };

  constructor() {
    this.life = AbortSignal.any([this.root.signal, this.died.signal]);
  }

  /** SIGTERM and SIGINT: the first cancels the root context; later ones are swallowed. */
  installSignalHandlers(): void {
    process.on('SIGTERM', this.handler);
    process.on('SIGINT', this.handler);
  }

  /** A child signal of `life` that also ends after `ms`. */
  withDeadline(ms: number): { signal: AbortSignal; clear: () => void } {
    const b = Lifecycle.budget(ms);
    return { signal: AbortSignal.any([this.life, b.signal]), clear: b.clear };
  }

  /** A fresh budget independent of the root context (the 25 s shutdown budget). */
  static budget(ms: number): { signal: AbortSignal; clear: () => void } {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(new DeadlineError()), ms);
    return { signal: ac.signal, clear: () => clearTimeout(t) };
  }
}
