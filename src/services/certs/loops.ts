// Cert loops for HA Ingress in cert-share `rw` mode (spec §7.4): one loop per domain; each waits
// until tailscaled lists the domain, then asks for the cert now and on the retry schedule.
// tailscaled stores the issued cert in the shared Secret; the answer itself is discarded.
import type { LocalAPIClient } from '../../localapi/client.js';
import { errorFromResponse } from '../../localapi/client.js';
import { BusWatch } from '../../localapi/ipnbus.js';
import { errText, log as defaultLog } from '../../log.js';
import { formatGoDuration } from '../../settings/parse.js';
import { abortableSleep } from '../../util/sleep.js';
import { isTransientCertError, nextCertAttempt, parseRetryAfter, type CertOutcome } from './schedule.js';

export type WaitForDomain = (domain: string, signal: AbortSignal) => Promise<void>;
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface CertLoopDeps {
  client: Pick<LocalAPIClient, 'request'>;
  waitForDomain: WaitForDomain;
  log?: (msg: string) => void;
  sleep?: Sleep;
  now?: () => number;
  /** Per-call timeout (upstream 30 min). */
  callTimeoutMs?: number;
}

class CertRequestError extends Error {
  constructor(message: string, readonly outcome: CertOutcome) { super(message); }
}

/** One `GET cert/<domain>?type=pair&min_validity=0s`; resolves on success, throws a classified error. */
async function requestCert(deps: CertLoopDeps, domain: string, signal: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(deps.callTimeoutMs ?? 30 * 60_000);
  let res;
  try {
    res = await deps.client.request('GET', `/localapi/v0/cert/${encodeURIComponent(domain)}?type=pair&min_validity=0s`, { signal: AbortSignal.any([signal, timeout]) });
  } catch (e) {
    throw new CertRequestError(errText(e), isTransientCertError(e) || signal.aborted || timeout.aborted ? { kind: 'transient' } : { kind: 'error' });
  }
  if (res.status >= 200 && res.status < 300) return;
  const err = errorFromResponse(res);
  if (res.status === 429) {
    const ra = res.headers['retry-after'];
    throw new CertRequestError(err.message, { kind: 'rate-limited', retryAfterMs: parseRetryAfter(Array.isArray(ra) ? ra[0] : ra, (deps.now ?? Date.now)()) });
  }
  throw new CertRequestError(err.message, { kind: 'error' });
}

export async function runCertLoop(deps: CertLoopDeps, domain: string, signal: AbortSignal): Promise<void> {
  const log = deps.log ?? defaultLog;
  const sleep = deps.sleep ?? abortableSleep;
  await deps.waitForDomain(domain, signal);
  let retryCount = 0;
  while (!signal.aborted) {
    let outcome: CertOutcome = { kind: 'ok' };
    let msg = '';
    try {
      await requestCert(deps, domain, signal);
    } catch (e) {
      if (!(e instanceof CertRequestError)) throw e;
      outcome = e.outcome;
      msg = e.message;
    }
    if (signal.aborted) return;
    const next = nextCertAttempt(outcome, retryCount);
    retryCount = next.retryCount;
    if (outcome.kind !== 'ok') log(`Error refreshing certificate for ${domain} (retry ${retryCount}): ${msg}. Will retry in ${formatGoDuration(next.delayMs)}`);
    await sleep(next.delayMs, signal);
  }
}

/** Keeps one loop per domain: `ensure` starts missing loops and cancels loops of removed domains. */
export class CertLoops {
  private readonly loops = new Map<string, AbortController>();
  private readonly log: (m: string) => void;

  constructor(private readonly deps: CertLoopDeps) {
    this.log = deps.log ?? defaultLog;
  }

  get domains(): string[] {
    return [...this.loops.keys()].sort();
  }

  ensure(domains: string[]): void {
    const want = new Set(domains);
    for (const d of want) {
      if (this.loops.has(d)) continue;
      const ac = new AbortController();
      this.loops.set(d, ac);
      runCertLoop(this.deps, d, ac.signal).catch((e) => {
        if (!ac.signal.aborted) this.log(`cert loop for ${d} stopped: ${errText(e)}`);
      });
    }
    for (const [d, ac] of this.loops) {
      if (!want.has(d)) {
        ac.abort();
        this.loops.delete(d);
      }
    }
  }

  close(): void {
    this.ensure([]);
  }
}

/**
 * Default "wait for domain": watch the IPN bus (mask 8) only as a wake-up and, on every
 * notification carrying SelfChange, ask tailscaled for its cert domains. Errors are logged.
 */
export function busWaitForDomain(client: LocalAPIClient, log: (m: string) => void = defaultLog, retryMs = 5_000): WaitForDomain {
  return async (domain, signal) => {
    while (!signal.aborted) {
      let w: BusWatch | undefined;
      try {
        w = await BusWatch.open(client, 8, signal);
        for (;;) {
          const n = await w.next();
          if (!(n as { SelfChange?: unknown }).SelfChange) continue;
          try {
            const domains = await client.getJSON<string[] | null>('/localapi/v0/cert-domains', signal);
            if ((domains ?? []).includes(domain)) return;
          } catch (e) {
            if (signal.aborted) return;
            log(`error getting cert domains: ${errText(e)}`);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        log(`error watching IPN bus while waiting for cert domain ${domain}: ${errText(e)}`);
      } finally {
        w?.close();
      }
      await abortableSleep(retryMs, signal);
    }
  };
}
