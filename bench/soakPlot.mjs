// Draws the soak's samples as an SVG line chart (RSS and V8 heap of both proxies over time), for
// docs/RELIABILITY.md. Input: the output of `bash bench/run.sh soak` (its Markdown samples table).
//   bash bench/run.sh soak --minutes 10 | tee soak.log;  node bench/soakPlot.mjs < soak.log > docs/soak.svg
import { readFileSync } from 'node:fs';

const rows = readFileSync(0, 'utf8').split('\n')
  .filter((l) => /^\| \d+ \|/.test(l))
  .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
if (rows.length < 2) { process.stderr.write('soakPlot: no samples table on stdin\n'); process.exit(1); }

// Columns: t, kproxy RSS KiB, heap MiB, fds, children, reconciles, HA RSS KiB, heap MiB, …
const series = [
  { name: 'kernel proxy RSS', color: '#1f77b4', pts: rows.map((r) => [Number(r[0]), Number(r[1]) / 1024]) },
  { name: 'HA egress RSS', color: '#d62728', pts: rows.map((r) => [Number(r[0]), Number(r[6]) / 1024]) },
  { name: 'kernel proxy V8 heap', color: '#1f77b4', dash: '4 3', pts: rows.map((r) => [Number(r[0]), Number(r[2])]) },
  { name: 'HA egress V8 heap', color: '#d62728', dash: '4 3', pts: rows.map((r) => [Number(r[0]), Number(r[7])]) },
];
const W = 760, H = 360, L = 60, R = 190, T = 20, B = 40;
const tMax = Math.max(...rows.map((r) => Number(r[0])));
const yMax = Math.ceil(Math.max(...series.flatMap((s) => s.pts.map((p) => p[1]))) / 10) * 10;
const x = (t) => L + (t / tMax) * (W - L - R);
const y = (v) => H - B - (v / yMax) * (H - T - B);
const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`];
for (let v = 0; v <= yMax; v += 10) {
  out.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
}
const step = tMax > 600 ? 120 : 60;
for (let t = 0; t <= tMax; t += step) out.push(`<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${t / 60}</text>`);
out.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">minutes of churn</text>`,
  `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">MiB</text>`);
series.forEach((s, i) => {
  out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.6"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${s.pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
  const ly = T + 10 + i * 18;
  out.push(`<line x1="${W - R + 12}" x2="${W - R + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`, `<text x="${W - R + 42}" y="${ly + 4}">${s.name}</text>`);
});
out.push('</svg>');
process.stdout.write(`${out.join('\n')}\n`);
