#!/usr/bin/env node
// New-connection rate through the proxy with real packets, at 1 and at N HA egress services.
// Usage (root): node_modules/.bin/node bench/newconn.mjs [rounds=5] [secs=2] [backends=nftables,iptables-legacy,iptables-nft] [sizes=1,500] [--root DIR]
// Topology (namespaces cbnc-*-<pid>, deleted at the end): client 192.0.2.2 → proxy eth0 192.0.2.1
// (DNAT port map to 100.64.0.2:80, SNAT to 100.64.0.1) → tailscale0 → target 100.64.0.2.
// The client resets each connection once established; sizes alternate round by round so machine
// noise hits them alike. --root runs another checkout's engine (e.g. an export of main) with this
// bench's installer, to compare layouts.
import { build } from 'esbuild';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ri = args.indexOf('--root');
const root = ri >= 0 ? path.resolve(args.splice(ri, 2)[1]) : here;
const rounds = Number(args[0] ?? 5);
const secs = args[1] ?? '2';
const backends = (args[2] ?? 'nftables,iptables-legacy,iptables-nft').split(',');
const sizes = (args[3] ?? '1,500').split(',').map(Number);
const node = path.join(here, 'node_modules/.bin/node');
const CONC = '16';

const id = process.pid.toString(36);
const ns = { peer: `cbnc-peer-${id}`, proxy: `cbnc-proxy-${id}`, back: `cbnc-back-${id}` };
const sh = (cmd, a, opts = {}) => execFileSync(cmd, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const inNs = (n, cmd, a, opts) => sh('ip', ['netns', 'exec', n, cmd, ...a], opts);
const quiet = (f) => { try { f(); } catch { /* best effort */ } };

// The installer is bundled from `root` (its src/), with this bench's installer copied in if missing.
const cache = path.join(here, 'node_modules/.cache/cbnc');
mkdirSync(cache, { recursive: true });
const entry = path.join(root, 'bench/newconnInstall.ts');
if (root !== here) { mkdirSync(path.dirname(entry), { recursive: true }); copyFileSync(path.join(here, 'bench/newconnInstall.ts'), entry); }
const installer = path.join(cache, `install-${process.pid}.mjs`);
await build({
  entryPoints: [entry], outfile: installer, bundle: true, platform: 'node', format: 'esm', target: 'node24',
  external: ['koffi'], logLevel: 'warning', nodePaths: [path.join(here, 'node_modules')],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

const children = [];
function cleanup() {
  for (const c of children) quiet(() => process.kill(c.pid, 'SIGTERM'));
  for (const n of Object.values(ns)) quiet(() => sh('ip', ['netns', 'del', n]));
  quiet(() => unlinkSync(installer));
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

for (const n of Object.values(ns)) { sh('ip', ['netns', 'add', n]); sh('ip', ['-n', n, 'link', 'set', 'lo', 'up']); }
sh('ip', ['link', 'add', 'peer0', 'netns', ns.peer, 'type', 'veth', 'peer', 'name', 'tailscale0', 'netns', ns.proxy]);
sh('ip', ['link', 'add', 'eth0', 'netns', ns.proxy, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.back]);
for (const [n, dev, addr] of [[ns.peer, 'peer0', '100.64.0.2/24'], [ns.proxy, 'tailscale0', '100.64.0.1/24'], [ns.proxy, 'eth0', '192.0.2.1/24'], [ns.back, 'eth0', '192.0.2.2/24']]) {
  sh('ip', ['-n', n, 'addr', 'add', addr, 'dev', dev]);
  sh('ip', ['-n', n, 'link', 'set', dev, 'up']);
}
sh('ip', ['-n', ns.back, 'route', 'add', 'default', 'via', '192.0.2.1']);
inNs(ns.proxy, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
// Reset connections leave conntrack entries in CLOSE; expire them fast so the table stays small.
quiet(() => inNs(ns.proxy, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_tcp_timeout_close=1']));

const server = spawn('ip', ['netns', 'exec', ns.peer, node, '-e',
  'require("net").createServer((s)=>{s.on("error",()=>{});s.destroy()}).listen(80,"100.64.0.2",()=>console.log("listening"))'], { stdio: ['ignore', 'pipe', 'inherit'] });
children.push(server);
await new Promise((res, rej) => { server.stdout.once('data', res); server.once('exit', (c) => rej(new Error(`server exited ${c}`))); });

function resetFirewall() {
  quiet(() => inNs(ns.proxy, 'nft', ['flush', 'ruleset']));
  for (const t of ['nat', 'mangle']) for (const f of ['-F', '-X']) quiet(() => inNs(ns.proxy, 'iptables-legacy', ['-w', '-t', t, f]));
}

function install(backend, n) {
  resetFirewall();
  const out = inNs(ns.proxy, 'env', [`CBNC_NETNS=${ns.proxy}`, node, installer, backend, String(n)]);
  if (!out.includes('installed')) throw new Error(`installing ${n} services (${backend}) failed: ${out}`);
}

function measure(port) {
  const r = JSON.parse(inNs(ns.back, node, [path.join(here, 'bench/newconnClient.mjs'), '192.0.2.1', String(port), secs, CONC]).trim());
  if (r.done === 0) throw new Error(`no connection reached the target through port ${port} (${r.failed} failed)`);
  return r.rate;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const results = [];
for (const backend of backends) {
  const rates = new Map(sizes.map((n) => [n, { first: [], last: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 ? [...sizes].reverse() : sizes) {
      install(backend, n);
      rates.get(n).first.push(measure(10000));
      rates.get(n).last.push(measure(10000 + n - 1));
    }
  }
  for (const n of sizes) {
    const x = rates.get(n);
    results.push({ backend, n, first: x.first, last: x.last });
    process.stderr.write(`${JSON.stringify({ backend, n, first: x.first.map(Math.round), last: x.last.map(Math.round) })}\n`);
  }
}

const f = (xs) => `${Math.round(median(xs))} (${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))})`;
const lines = [`engine from ${root === here ? 'this checkout' : root}; ${rounds} rounds × ${secs} s per port, ${CONC} connections in flight`,
  '| backend | services | new connections/s to service 0 | to service N-1 | N vs 1 (service 0 / N-1) |', '|---|---|---|---|---|'];
for (const r of results) {
  const base = results.find((x) => x.backend === r.backend && x.n === sizes[0]);
  const pct = (a, b) => `${((median(a) / median(b) - 1) * 100).toFixed(1)} %`;
  lines.push(`| ${r.backend} | ${r.n} | ${f(r.first)} | ${f(r.last)} | ${pct(r.first, base.first)} / ${pct(r.last, base.last)} |`);
}
console.log(lines.join('\n'));
process.exit(0);
