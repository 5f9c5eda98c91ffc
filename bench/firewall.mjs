// Firewall engine benchmark: for each backend, a fresh network namespace (cbfw-bench-*), the engine
// reconciling N egress port-map rules, and upstream-style baselines in the same run.
// Usage (root): npx --no-install node bench/firewall.mjs [N=1000] [reps=5] [backends=nftables,iptables-legacy,iptables-nft]
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = process.argv[2] ?? '1000';
const REPS = process.argv[3] ?? '5';
const backends = (process.argv[4] ?? 'nftables,iptables-legacy,iptables-nft').split(',');
const node = path.join(root, 'node_modules/.bin/node');

// Sources import `.js` paths, which Node's type stripping cannot map to `.ts`: bundle the worker.
const dir = path.join(root, 'node_modules/.cache/cbfw');
mkdirSync(dir, { recursive: true });
const worker = path.join(dir, `bench-worker-${process.pid}.mjs`);
await build({
  entryPoints: [path.join(root, 'bench/firewall-worker.ts')], outfile: worker, bundle: true, platform: 'node',
  format: 'esm', target: 'node24', external: ['koffi'], logLevel: 'warning',
  banner: { js: "import { createRequire as __cbCreateRequire } from 'node:module'; const require = __cbCreateRequire(import.meta.url);" },
});

const results = [];
try {
  for (const b of backends) {
    const ns = `cbfw-bench-${process.pid}-${b}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const out = execFileSync('ip', ['netns', 'exec', ns, node, worker, b, N, REPS], {
        encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, CBFW_BENCH_NETNS: ns },
      });
      const r = JSON.parse(out.trim().split('\n').pop());
      results.push(r);
      process.stderr.write(`${JSON.stringify(r)}\n`);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  }
} finally {
  unlinkSync(worker);
}

const f = (x) => x.toFixed(1);
const lines = [
  `| backend | reconcile ${N} from empty (fresh netns / median of ${REPS}; of which in libnftables or the restore process) | processes / libnftables calls per reconcile | change 1 of ${N} (group of 10) | change 1 of ${N} (all in one group) | no-op reconcile | one process per rule | check-then-add per rule | ratio per-process / engine | ratio check-then-add / engine |`,
  '|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.backend} | ${f(r.firstMs)} (${f(r.firstToolMs)}) / ${f(r.fromEmptyMs)} (${f(r.fromEmptyToolMs)}) ms | ${r.firstSpawns} / ${r.firstNft} | ${f(r.changeOneMs)} ms (${r.changeSpawns} spawn) | ${f(r.singleGroupChangeOneMs)} ms | ${f(r.noopMs)} ms | ${f(r.perProcessMs)} ms | ${f(r.checkThenAddMs)} ms | ${Math.round(r.perProcessMs / r.fromEmptyMs)}× | ${Math.round(r.checkThenAddMs / r.fromEmptyMs)}× |`),
];
lines.push('', '| backend | createFirewall for the mode (IPv6 probe, tool lookup, first listing) |', '|---|---|',
  ...results.map((r) => `| ${r.backend} | ${f(r.createMs)} ms |`));
console.log(lines.join('\n'));
