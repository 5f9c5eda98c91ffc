// Retry schedule of the HA Ingress cert loops (spec §7.4), as a pure function.

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;
/** Non-transient failures: 1 min, 10 min, 100 min, then daily (indexed by the retry counter). */
export const RETRY_SCHEDULE = [MINUTE, 10 * MINUTE, 100 * MINUTE, DAY];

export type CertOutcome =
  | { kind: 'ok' }
  /** Never reached the CA (timeouts, cancellations, connection errors). */
  | { kind: 'transient' }
  /** HTTP 429; retryAfterMs from Retry-After when it was usable (> 0). */
  | { kind: 'rate-limited'; retryAfterMs?: number }
  | { kind: 'error' };

export interface Next {
  delayMs: number;
  retryCount: number;
}

export function nextCertAttempt(outcome: CertOutcome, retryCount: number): Next {
  switch (outcome.kind) {
    case 'ok':
      return { delayMs: DAY, retryCount: 0 };
    case 'transient':
      return { delayMs: RETRY_SCHEDULE[0], retryCount };
    default: {
      const n = retryCount + 1;
      let delayMs = RETRY_SCHEDULE[Math.min(n - 1, RETRY_SCHEDULE.length - 1)];
      if (outcome.kind === 'rate-limited' && outcome.retryAfterMs !== undefined && outcome.retryAfterMs > 0) delayMs = outcome.retryAfterMs;
      return { delayMs, retryCount: n };
    }
  }
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'ECONNABORTED', 'EAI_AGAIN']);

/** Whether an error from the cert call means the request never got an answer from tailscaled/the CA. */
export function isTransientCertError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && (TRANSIENT_CODES.has(code) || code === 'ABORT_ERR')) return true;
  }
  return false;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unusable. */
export function parseRetryAfter(v: string | undefined, now: number): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const d = Date.parse(t);
  if (Number.isNaN(d)) return undefined;
  const ms = d - now;
  return ms > 0 ? ms : undefined;
}
