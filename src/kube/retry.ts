// Bounded retry for Secret writes that must not fail the container on a passing API hiccup.
import { errText, log } from '../log.js';
import { sleep } from '../util/sleep.js';

export interface RetryOptions {
  /** Total time budget; no attempt starts after it. */
  budgetMs: number;
  /** Which errors are worth another attempt. */
  retryable: (err: unknown) => boolean;
  /**
   * Errors worth another attempt only once an earlier attempt of this write failed retryably: an
   * API server that was just unreachable answers 401/403 until its authenticator and RBAC caches
   * have synced (seen on the real cluster, test/k8s). A denial on the first attempt stays final.
   */
  retryableAfterOutage?: (err: unknown) => boolean;
  /** Log prefix naming the operation, e.g. `storing device ID in Kubernetes Secret`. */
  what: string;
  signal?: AbortSignal;
  firstDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
  random?: () => number;
}

export const DEFAULT_WRITE_RETRY_BUDGET_MS = 30_000;

/** Runs `op` until it succeeds, fails permanently, the budget is spent or `signal` aborts. */
export async function withRetry<T>(op: () => Promise<T>, o: RetryOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const start = now();
  let delay = o.firstDelayMs ?? 200;
  const maxDelay = o.maxDelayMs ?? 5_000;
  let outage = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const retry = o.retryable(err) || (outage && (o.retryableAfterOutage?.(err) ?? false));
      if (o.signal?.aborted || !retry) throw err;
      outage = true;
      const wait = Math.round(delay * (0.75 + random() / 2));
      const elapsed = now() - start;
      if (elapsed + wait > o.budgetMs) {
        if (attempt > 1 && err instanceof Error) {
          err.message += ` (gave up after ${attempt} attempts in ${(elapsed / 1000).toFixed(1)}s)`;
        }
        throw err;
      }
      log(`${o.what}: transient error (attempt ${attempt}), retrying in ${(wait / 1000).toFixed(1)}s: ${errText(err)}`);
      await sleep(wait, o.signal);
      if (o.signal?.aborted) throw err;
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
