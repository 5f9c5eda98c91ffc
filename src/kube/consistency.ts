// Shutdown rule (spec §2.6 step 3): tailscaled's kubestore writes its state keys one by one; SIGTERM
// in the middle can leave a profile without its index. Pure helpers for the wait loop.

const FIXED_KEYS = ['_current-profile', '_profiles', '_machinekey'];

/** Consistent = no tailscaled state at all, or the three fixed keys plus exactly one profile-*. */
export function isConsistentState(keys: Iterable<string>): boolean {
  const set = new Set(keys);
  const profiles = [...set].filter((k) => k.startsWith('profile-')).length;
  const fixed = FIXED_KEYS.filter((k) => set.has(k)).length;
  if (fixed === 0 && profiles === 0) return true;
  return fixed === FIXED_KEYS.length && profiles === 1;
}

/** n-th wait (n ≥ 1): min(n²·10 ms, 2 s), jittered by a factor in [0.5, 1.5). */
export function consistencyBackoffMs(n: number, random: () => number = Math.random): number {
  const base = Math.min(n * n * 10, 2000);
  return base * (0.5 + random());
}
