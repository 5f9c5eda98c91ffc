import { expect, it } from 'vitest';
import { collectGarbage } from '../../src/util/collect.js';

it('collectGarbage runs a major GC without --expose-gc on the command line', () => {
  expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
  let keep: unknown[] | undefined = [];
  for (let i = 0; i < 200_000; i++) keep.push({ i, s: `garbage ${i}` });
  const before = process.memoryUsage().heapUsed;
  keep = undefined;
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  // 200k small objects and strings are well over 8 MB; a scavenge alone would not free old space.
  expect(before - after).toBeGreaterThan(8 * 1024 * 1024);
  expect(keep).toBeUndefined();
  collectGarbage();
});
