import { expect, it } from 'vitest';
import { collectGarbage } from '../../src/util/collect.js';
import { freesLargeGarbage } from '../support/garbage.js';

it('collectGarbage runs a major GC without --expose-gc on the command line', async () => {
  expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
  expect(await freesLargeGarbage(() => collectGarbage())).toBe(true);
  expect(await freesLargeGarbage(() => collectGarbage('last-resort'))).toBe(true); // later calls reuse the same gc function
});
