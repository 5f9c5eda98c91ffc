// The side-by-side table of bench/compare-upstream: per metric, both sides' samples reduced to
// median and min–max, the ratio upstream ÷ this project, and which side wins. Pure.

export type Side = 'ours' | 'upstream';
export const SIDES: readonly Side[] = ['ours', 'upstream'];

export interface Metric {
  /** Row label, e.g. "userspace: exec → Running". */
  name: string;
  unit: 'ms' | 'MiB' | 's' | 'count';
  /** Which direction is better (every metric here: lower). */
  better: 'lower';
  samples: Record<Side, number[]>;
  /** p99 rows: reduce with this percentile instead of the median. */
  percentile?: number;
}

export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (xs: number[]): number => quantile(xs, 0.5);

function fmt(v: number, unit: Metric['unit']): string {
  if (!Number.isFinite(v)) return '–';
  if (unit === 'MiB') return v.toFixed(1);
  if (unit === 'count') return String(Math.round(v));
  if (unit === 's') return v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
  return v >= 100 ? Math.round(v).toString() : v.toFixed(1);
}

function cell(m: Metric, side: Side): string {
  const xs = m.samples[side];
  if (!xs.length) return 'no samples';
  const center = quantile(xs, m.percentile ?? 0.5);
  const range = xs.length > 1 && m.percentile === undefined ? ` (${fmt(Math.min(...xs), m.unit)}–${fmt(Math.max(...xs), m.unit)})` : '';
  return `${fmt(center, m.unit)} ${m.unit}${range}`;
}

/** Ratio upstream ÷ ours of the reduced values, and the winner (ties within 5 % are "tie"). */
export function verdict(m: Metric): { ratio: number; winner: Side | 'tie' | '–' } {
  const q = m.percentile ?? 0.5;
  const o = quantile(m.samples.ours, q);
  const u = quantile(m.samples.upstream, q);
  if (!Number.isFinite(o) || !Number.isFinite(u)) return { ratio: NaN, winner: '–' };
  const ratio = o === 0 ? (u === 0 ? 1 : Infinity) : u / o;
  // Within 5 %, or below what the unit resolves (CPU ticks are 10 ms, /proc memory 4 kB), is a tie.
  const floor = { ms: 0.5, s: 0.0005, MiB: 0.05, count: 0.5 }[m.unit];
  const close = Math.abs(u - o) <= 0.05 * Math.max(Math.abs(u), Math.abs(o)) || Math.abs(u - o) < floor;
  return { ratio, winner: close ? 'tie' : u > o ? 'ours' : 'upstream' };
}

export function renderTable(metrics: Metric[]): string {
  const lines = [
    '| measurement | this project: median (min–max) | upstream v1.102.3: median (min–max) | upstream ÷ ours | wins |',
    '|---|---|---|---|---|',
  ];
  for (const m of metrics) {
    const v = verdict(m);
    const ratio = Number.isFinite(v.ratio) ? `${v.ratio >= 10 ? v.ratio.toFixed(0) : v.ratio.toFixed(2)}×` : '–';
    const n = Math.min(m.samples.ours.length, m.samples.upstream.length);
    lines.push(`| ${m.name} (n=${n}) | ${cell(m, 'ours')} | ${cell(m, 'upstream')} | ${ratio} | ${v.winner === 'ours' ? 'this project' : v.winner} |`);
  }
  return lines.join('\n');
}

/** Collects samples by metric name, keeping first-seen order. */
export class MetricSet {
  private readonly byName = new Map<string, Metric>();

  add(name: string, unit: Metric['unit'], side: Side, value: number, percentile?: number): void {
    let m = this.byName.get(name);
    if (!m) {
      m = { name, unit, better: 'lower', samples: { ours: [], upstream: [] }, percentile };
      this.byName.set(name, m);
    }
    m.samples[side].push(value);
  }

  all(): Metric[] {
    return [...this.byName.values()];
  }
}

/**
 * CONTAINERBOOT_NODE from the bench's environment, for this project's side only (bin/containerboot
 * runs that node; a wrapper adding V8 flags measures them against upstream).
 */
export function oursNode(side: Side): Record<string, string> {
  const n = process.env.CONTAINERBOOT_NODE;
  return side === 'ours' && n ? { CONTAINERBOOT_NODE: n } : {};
}
