// Seeds for the chaos tests: every run is reproducible from its seed. CI runs CHAOS_SEEDS seeds
// (a few); `bash scripts/chaos.sh` runs the full count; CHAOS_SEED=<n> replays one seed.

/** mulberry32: a small deterministic PRNG; returns floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seeds to run: CHAOS_SEED alone, else 1..CHAOS_SEEDS (default `ciCount`). */
export function chaosSeeds(ciCount: number): number[] {
  if (process.env.CHAOS_SEED) return [Number(process.env.CHAOS_SEED)];
  const n = Number(process.env.CHAOS_SEEDS ?? ciCount);
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Waits `ms` (fractions allowed) with sub-millisecond precision: kill points inside short batches. */
export async function preciseDelay(ms: number): Promise<void> {
  const end = performance.now() + ms;
  if (ms > 3) await new Promise((r) => setTimeout(r, ms - 2));
  while (performance.now() < end) await new Promise((r) => setImmediate(r));
}

/** A timeout for a chaos test that grows with the number of seeds. */
export function chaosTimeout(perSeedMs: number, ciCount: number): number {
  return 30_000 + perSeedMs * chaosSeeds(ciCount).length;
}
