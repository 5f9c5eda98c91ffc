// Hands back memory that churn leaves freed but held. V8 keeps the pages of a collected old space
// pooled and collects old space only near its limit; malloc keeps freed chunks in its arenas
// (child-process pipes, libnftables batches). Over hours of netmap churn both read as a slowly
// rising RSS (docs/RELIABILITY.md, soak). One pass: a last-resort GC (collects until nothing more
// is freed and releases pooled pages) and, when koffi is already loaded, malloc_trim(0).
// Passes follow work only: a few seconds after it goes quiet, at most one per `gapMs` under
// steady churn, none while idle (no wake-ups for a steady node), and a due pass is skipped when
// RSS has not grown by `PASS_GROWTH_BYTES` since the last one: garbage in pages that are already
// resident costs no RSS, and a pass costs tens of ms of CPU (docs/PERFORMANCE.md, idle cost).
import { collectGarbage } from '../util/collect.js';
import { monotonicMs } from '../util/lean.js';
import { nativeLoaded } from '../util/nativeRequire.js';
import { mallocTrim } from './libc.js';

export interface UpkeepTiming {
  /** Work must be quiet this long before a pass. */
  quietMs: number;
  /** Minimum time between two passes. */
  gapMs: number;
}

export const DEFAULT_UPKEEP: UpkeepTiming = { quietMs: 2_000, gapMs: 30_000 };

/**
 * Delay from `now` to the next pass after work at `now`. The quiet period is counted from the
 * first work that found no pass scheduled, so steady churn cannot postpone a pass forever.
 */
export function upkeepDelay(now: number, lastPass: number | undefined, t: UpkeepTiming): number {
  const due = lastPass === undefined ? now + t.quietMs : Math.max(now + t.quietMs, lastPass + t.gapMs);
  return due - now;
}

export interface UpkeepClock {
  now(): number;
  after(ms: number, fn: () => void): void;
}

const realClock: UpkeepClock = {
  now: monotonicMs,
  // unref: a pending pass never keeps the process alive.
  after: (ms, fn) => { setTimeout(fn, ms).unref(); },
};

export class MemoryUpkeep {
  private scheduled = false;
  private last: number | undefined;

  constructor(
    private readonly pass: () => void,
    private readonly timing: UpkeepTiming = DEFAULT_UPKEEP,
    private readonly clock: UpkeepClock = realClock,
  ) {}

  /** Work happened (a reconcile, a sync): schedule a pass unless one is pending. */
  noteWork(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.clock.after(upkeepDelay(this.clock.now(), this.last, this.timing), () => {
      this.scheduled = false;
      this.last = this.clock.now();
      this.pass();
    });
  }
}

/** The real pass: last-resort GC, then malloc_trim when libc is reachable without loading koffi. */
export function memoryPass(): void {
  collectGarbage('last-resort');
  // Loading koffi for this would cost more than it returns (userspace and iptables modes).
  if (nativeLoaded('koffi')) mallocTrim();
}

/** RSS growth since the last pass that makes the next due pass worth its CPU. */
export const PASS_GROWTH_BYTES = 1 << 20;

/** Whether a due pass runs: always the first, then only after RSS grew past the last pass's result. */
export function passWorthwhile(rss: number, rssAfterLast: number | undefined, growth = PASS_GROWTH_BYTES): boolean {
  return rssAfterLast === undefined || rss > rssAfterLast + growth;
}

/** `pass`, gated on RSS growth (`passWorthwhile`); returns whether it ran. */
export function gatedPass(pass: () => void, readRss: () => number = process.memoryUsage.rss): () => boolean {
  let after: number | undefined;
  return () => {
    if (!passWorthwhile(readRss(), after)) return false;
    pass();
    after = readRss();
    return true;
  };
}

let shared: MemoryUpkeep | undefined;

/** Turns the process-wide upkeep on (the real program only; tests of the runners leave it off). */
export function enableMemoryUpkeep(): void {
  shared ??= new MemoryUpkeep(gatedPass(memoryPass));
}

/** Called where work ends (run-loop reconciles, file-driven syncs); a no-op until enabled. */
export function noteWork(): void {
  shared?.noteWork();
}
