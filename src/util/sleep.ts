// A timer that ends early when `signal` aborts (it never rejects).
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The same, for call sites that always have a signal. */
export const abortableSleep: (ms: number, signal: AbortSignal) => Promise<void> = sleep;
