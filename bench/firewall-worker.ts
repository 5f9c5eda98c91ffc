// Runs inside a fresh network namespace (started by bench/firewall.mjs). Measures the engine and
// the two upstream-style baselines for one backend; prints one JSON object.
import { spawnSync } from 'node:child_process';
import { createBackendFirewall } from '../src/firewall/create.js';
import { nftRun, nftStats } from '../src/firewall/libnftables.js';
import { spawnStats } from '../src/firewall/spawn.js';
import type { ProxyRule } from '../src/firewall/types.js';

type Backend = 'nftables' | 'iptables-legacy' | 'iptables-nft';
const backend = process.argv[2] as Backend;
const N = Number(process.argv[3] ?? 1000);
const REPS = Number(process.argv[4] ?? 5);
const PER_SVC = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function rule(i: number, targetPort = 80): ProxyRule {
  return { kind: 'portmap', family: 4, svc: `svc${Math.floor(i / PER_SVC)}`, proto: 'tcp', matchPort: 10000 + i, targetIP: `100.64.${i >> 8}.${i & 255}`, targetPort };
}

/** N port-map rules as HA egress groups them: one group per service, PER_SVC ports each. */
function groups(n: number, tweak = -1): Record<string, ProxyRule[]> {
  const g: Record<string, ProxyRule[]> = {};
  for (let i = 0; i < n; i++) (g[`egress-svc:svc${Math.floor(i / PER_SVC)}`] ??= []).push(rule(i, i === tweak ? 81 : 80));
  return g;
}

function empty(g: Record<string, ProxyRule[]>): Record<string, ProxyRule[]> {
  return Object.fromEntries(Object.keys(g).map((k) => [k, []]));
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function iptV(): string {
  return backend === 'iptables-legacy' ? 'legacy' : 'nft';
}

function sh(cmd: string, args: string[]): number {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status ?? 1;
}

function iptSpec(i: number): string[] {
  return ['!', '-i', 'tailscale0', '-p', 'tcp', '--dport', String(10000 + i), '-m', 'comment', '--comment', `svc${Math.floor(i / PER_SVC)}:tcp:${10000 + i} -> tcp:80`,
    '-j', 'DNAT', '--to-destination', `100.64.${i >> 8}.${i & 255}:80`];
}

function nftRule(i: number): string {
  return `iifname != "tailscale0*" meta l4proto tcp th dport ${10000 + i} dnat to 100.64.${i >> 8}.${i & 255}:80 comment "svc:svc${Math.floor(i / PER_SVC)},targetIP:100.64.${i >> 8}.${i & 255}:matchPort:${10000 + i},targetPort:80,proto:tcp"`;
}

function resetBaseline(): void {
  if (backend === 'nftables') {
    nftRun('add table ip nat\nadd chain ip nat PREROUTING { type nat hook prerouting priority dstnat; policy accept; }\nflush chain ip nat PREROUTING');
  } else {
    sh(`iptables-${iptV()}`, ['-w', '-t', 'nat', '-F', 'PREROUTING']);
  }
}

/** Upstream's iptables backend without checks: one process per rule. */
function perProcess(n: number): number {
  resetBaseline();
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const rc = backend === 'nftables'
      ? sh('nft', ['add rule ip nat PREROUTING ' + nftRule(i)])
      : sh(`iptables-${iptV()}`, ['-w', '-t', 'nat', '-A', 'PREROUTING', ...iptSpec(i)]);
    if (rc !== 0) throw new Error(`per-process rule ${i} failed`);
  }
  return performance.now() - t;
}

/** Upstream's Ensure* pattern: look the rule up, add it if missing, one rule at a time. */
function checkThenAdd(n: number): number {
  resetBaseline();
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    if (backend === 'nftables') {
      // Upstream lists the chain and matches userdata before each insert (in-process netlink).
      const doc = JSON.parse(nftRun('list chain ip nat PREROUTING')) as { nftables: Array<{ rule?: { comment?: string } }> };
      const want = nftRule(i).split('comment "')[1].slice(0, -1);
      if (!doc.nftables.some((o) => o.rule?.comment === want)) nftRun('insert rule ip nat PREROUTING ' + nftRule(i));
    } else {
      const bin = `iptables-${iptV()}`;
      if (sh(bin, ['-w', '-t', 'nat', '-C', 'PREROUTING', ...iptSpec(i)]) !== 0) {
        if (sh(bin, ['-w', '-t', 'nat', '-A', 'PREROUTING', ...iptSpec(i)]) !== 0) throw new Error(`check-then-add rule ${i} failed`);
      }
    }
  }
  return performance.now() - t;
}

/** This worker rewrites nat tables: refuse to run anywhere but the namespace the driver made. */
function requireBenchNetns(): void {
  const want = process.env.CBFW_BENCH_NETNS;
  const here = spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).stdout?.trim();
  if (!want || here !== want) {
    process.stderr.write('bench/firewall-worker.ts changes firewall rules and only runs inside the namespace that\n'
      + 'bench/firewall.mjs creates: run `npx --no-install node bench/firewall.mjs` (as root) instead.\n');
    process.exit(2);
  }
}

async function main(): Promise<void> {
  requireBenchNetns();
  const mode = backend === 'nftables' ? { mode: 'nftables' as const } : { mode: 'iptables' as const, variant: iptV() as 'legacy' | 'nft' };
  const tCreate = performance.now();
  const fw = await createBackendFirewall(mode);
  const createMs = performance.now() - tCreate;
  const all = groups(N);

  // From empty, first time in a fresh namespace (no table/chains of ours yet).
  let s0 = spawnStats.count, n0 = nftStats.calls;
  const firstTool0 = nftStats.ms + spawnStats.ms;
  const firstMs = await time(() => fw.apply(all));
  const firstToolMs = nftStats.ms + spawnStats.ms - firstTool0;
  const firstSpawns = spawnStats.count - s0, firstNft = nftStats.calls - n0;

  const fromEmpty: number[] = [];
  const fromEmptyTool: number[] = [];
  const changeOne: number[] = [];
  const changeSpawns: number[] = [];
  const noop: number[] = [];
  const g0 = 'egress-svc:svc0';
  for (let r = 0; r < REPS; r++) {
    // Nothing changed: no listing, no write.
    noop.push(await time(() => fw.apply(all)));
    // Change one rule among N (port of rule 5: 80 → 81 and back): only its service's group is rewritten.
    for (const tweak of [5, -1]) {
      s0 = spawnStats.count;
      changeOne.push(await time(() => fw.apply({ [g0]: groups(N, tweak)[g0] })));
      changeSpawns.push(spawnStats.count - s0);
    }
    await fw.apply(empty(all));
    const tool0 = nftStats.ms + spawnStats.ms;
    fromEmpty.push(await time(() => fw.apply(all)));
    fromEmptyTool.push(nftStats.ms + spawnStats.ms - tool0);
  }
  await fw.apply(empty(all));

  // Worst case for the per-group layout: all N rules in ONE group, change one of them.
  const one: ProxyRule[] = Array.from({ length: N }, (_, i) => rule(i));
  await fw.apply({ single: one });
  const singleChange: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const changed = one.map((x, i) => (i === 5 && r % 2 === 0 ? { ...x, targetPort: 81 } : x));
    singleChange.push(await time(() => fw.apply({ single: changed })));
  }
  await fw.apply({ single: [] });
  fw.close();

  const perProcMs = perProcess(N);
  const ctaMs = checkThenAdd(N);
  resetBaseline();

  process.stdout.write(JSON.stringify({
    backend, n: N, reps: REPS, createMs,
    firstMs, firstToolMs, firstSpawns, firstNft,
    fromEmptyMs: median(fromEmpty), fromEmptyToolMs: median(fromEmptyTool), changeOneMs: median(changeOne), changeSpawns: Math.max(...changeSpawns),
    noopMs: median(noop), singleGroupChangeOneMs: median(singleChange),
    perProcessMs: perProcMs, checkThenAddMs: ctaMs,
  }) + '\n');
}

await main();
