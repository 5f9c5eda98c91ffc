import { setImmediate as tick } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { collectGarbage } from '../../src/util/collect.js';

it('collectGarbage runs a major GC without --expose-gc on the command line', async () => {
  expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
  // A large array lives in the large-object space, which only a major (mark-compact) GC frees.
  let big: number[] | undefined = new Array<number>(200_000).fill(1);
  const ref = new WeakRef(big);
  big = undefined;
  // A WeakRef's target survives until the end of the task that created or read it.
  await tick();
  collectGarbage();
  expect(ref.deref()).toBeUndefined();
  collectGarbage(); // later calls reuse the same gc function
});
