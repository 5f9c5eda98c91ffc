import { describe, expect, it } from 'vitest';
import { gatedPass, MemoryUpkeep, memoryPass, PASS_GROWTH_BYTES, passWorthwhile, upkeepDelay, type UpkeepClock } from '../../src/proc/memoryUpkeep.js';
import { mallocTrim } from '../../src/proc/libc.js';
import { nativeLoaded, nativeRequire } from '../../src/util/nativeRequire.js';
import { freesLargeGarbage } from '../support/garbage.js';

const T = { quietMs: 2_000, gapMs: 30_000 };

/** A clock whose timers fire when the test advances it. */
function fakeClock(): UpkeepClock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    after: (ms, fn) => { timers.push({ at: now + ms, fn }); },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        timers = timers.filter((t) => t !== next);
        now = next.at;
        next.fn();
      }
      now = end;
    },
    pending: () => timers.length,
  };
}

describe('upkeepDelay', () => {
  it('waits the quiet period after the first work', () => {
    expect(upkeepDelay(100, undefined, T)).toBe(2_000);
  });
  it('keeps at least gapMs between passes', () => {
    expect(upkeepDelay(10_000, 5_000, T)).toBe(25_000);
    expect(upkeepDelay(60_000, 5_000, T)).toBe(2_000);
  });
});

describe('MemoryUpkeep', () => {
  it('runs one pass per burst of work, none while idle', () => {
    const c = fakeClock();
    let passes = 0;
    const u = new MemoryUpkeep(() => { passes++; }, T, c);
    c.advance(600_000);
    expect(passes).toBe(0); // idle: nothing scheduled, no wake-ups
    for (let i = 0; i < 10; i++) { u.noteWork(); c.advance(100); }
    expect(c.pending()).toBe(1);
    c.advance(2_000);
    expect(passes).toBe(1);
    expect(c.pending()).toBe(0);
    c.advance(600_000);
    expect(passes).toBe(1);
  });

  it('under steady churn passes come every gapMs, never more often', () => {
    const c = fakeClock();
    const at: number[] = [];
    const u = new MemoryUpkeep(() => { at.push(c.now()); }, T, c);
    for (let s = 0; s < 120; s++) { u.noteWork(); c.advance(1_000); } // work every second for 2 min
    expect(at[0]).toBe(2_000);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(30_000);
    expect(at.length).toBe(4); // 2 s, 32 s, 62 s, 92 s
  });
});

describe('gatedPass', () => {
  it('runs the first pass, then only after RSS grew by more than PASS_GROWTH_BYTES since the last one', () => {
    let rss = 50 << 20;
    let runs = 0;
    const pass = gatedPass(() => { runs++; rss -= 2 << 20; }, () => rss);
    expect(pass()).toBe(true); // first: always; leaves RSS at 48 MiB
    expect(runs).toBe(1);
    rss += PASS_GROWTH_BYTES; // grew by exactly the threshold: not worth it
    expect(pass()).toBe(false);
    rss += 1;
    expect(pass()).toBe(true);
    expect(runs).toBe(2);
  });
  it('passWorthwhile compares against the RSS the last pass left', () => {
    expect(passWorthwhile(10, undefined)).toBe(true);
    expect(passWorthwhile(10 + PASS_GROWTH_BYTES, 10)).toBe(false);
    expect(passWorthwhile(11 + PASS_GROWTH_BYTES, 10)).toBe(true);
    expect(passWorthwhile(5, 10)).toBe(false);
  });
});

describe('memoryPass (real)', () => {
  it('collects garbage, and trims malloc only once koffi is loaded', async () => {
    expect(await freesLargeGarbage(memoryPass)).toBe(true);
    nativeRequire('koffi');
    expect(nativeLoaded('koffi')).toBe(true);
    expect(mallocTrim()).toBe(true); // glibc has malloc_trim
    memoryPass();
  });
});
