import { setImmediate as tick } from 'node:timers/promises';

/**
 * Whether `collect` frees an unreachable large array. It lives in the large-object space, which
 * only a major (mark-compact) GC frees; a WeakRef's target survives until the end of the task that
 * created or read it, hence the tick.
 */
export async function freesLargeGarbage(collect: () => void): Promise<boolean> {
  let big: number[] | undefined = new Array<number>(200_000).fill(1);
  const ref = new WeakRef(big);
  big = undefined;
  await tick();
  collect();
  return ref.deref() === undefined;
}
