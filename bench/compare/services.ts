// HA egress services half of bench/compare-upstream: both containerboots in kernel mode with
// TS_EGRESS_PROXIES_CONFIG_PATH, real netfilter (iptables-legacy, iptables-nft or nftables) in a
// fresh lab namespace per run, the fake LocalAPI (already Running) and the fake Kubernetes API
// (test/lab/kube.ts) in that namespace. The config volume is written the kubelet's way (`..data`
// symlink swap). Each step is timed from the swap until the Secret's `egress-services` status
// says so; the kernel is then checked to hold exactly the wanted DNAT targets (and the wait
// counted if it does not yet).
import fs from 'node:fs';
import path from 'node:path';
import type { Lab, LabNode } from '../../test/lab/lab.js';
import { sleep } from '../../test/lab/lab.js';
import { startKubeApi } from '../../test/lab/kube.js';
import { run } from '../../test/lab/proc.js';
import { NODE24 } from '../../test/lab/tools.js';
import { FAKE_BIN } from '../../test/support/harness.js';
import { FakeLocalAPI } from '../../test/support/fakeLocalAPI.js';
import { mem } from './procfs.js';
import { oursNode, SIDES, type MetricSet, type Side } from './stats.js';

export type Backend = 'iptables-legacy' | 'iptables-nft' | 'nftables';
export interface ServicesOptions { sizes: number[]; backends: Backend[]; runs: number; binaries: Record<Side, string>; timeoutMs: number }

type Targets = Map<string, string>; // service → target IPv4
const PORTS = [{ protocol: 'tcp', base: 10000, targetPort: 8080 }, { protocol: 'udp', base: 20000, targetPort: 5353 }];

export function targets(n: number, second: number): Targets {
  const t: Targets = new Map();
  for (let i = 0; i < n; i++) t.set(`svc-${i}`, `100.${second}.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`);
  return t;
}

export function configJSON(t: Targets): string {
  const o: Record<string, unknown> = {};
  let i = 0;
  for (const [svc, ip] of t) {
    o[svc] = { tailnetTarget: { ip }, ports: PORTS.map((p) => ({ protocol: p.protocol, matchPort: p.base + i, targetPort: p.targetPort })) };
    i++;
  }
  return JSON.stringify(o);
}

/** `ip:port` DNAT destinations in a ruleset listing (iptables-save `--to-destination a:p`, nft `to a:p`, or map elements `a . p`). */
export function dnatTargets(listing: string): Set<string> {
  const out = new Set<string>();
  for (const m of listing.matchAll(/(\d+\.\d+\.\d+\.\d+)(?::| \. )(\d+)/g)) out.add(`${m[1]}:${m[2]}`);
  return out;
}

function kernelMatches(found: Set<string>, want: Targets): boolean {
  let n = 0;
  for (const ip of want.values()) for (const p of PORTS) if (found.has(`${ip}:${p.targetPort}`)) n++;
  const wantedPorts = new Set(PORTS.map((p) => String(p.targetPort)));
  const ours = [...found].filter((d) => d.startsWith('100.') && wantedPorts.has(d.split(':')[1]!)).length;
  return n === want.size * PORTS.length && ours === n;
}

function statusMatches(raw: string | undefined, want: Targets): boolean {
  if (raw === undefined) return false;
  let st: { services?: Record<string, { tailnetTargetIPs?: string[] }> | null };
  try {
    st = JSON.parse(raw);
  } catch {
    return false;
  }
  const svcs = st.services ?? {};
  if (Object.keys(svcs).length !== want.size) return false;
  for (const [svc, ip] of want) if (svcs[svc]?.tailnetTargetIPs?.[0] !== ip) return false;
  return true;
}

/** PATH directory whose iptables* names are the chosen variant (both programs call the plain names). */
function iptablesDir(dir: string, backend: Backend): string {
  const d = path.join(dir, backend);
  fs.mkdirSync(d, { recursive: true });
  if (backend === 'nftables') return d;
  const multi = backend === 'iptables-legacy' ? '/usr/sbin/xtables-legacy-multi' : '/usr/sbin/xtables-nft-multi';
  for (const fam of ['iptables', 'ip6tables']) for (const suffix of ['', '-save', '-restore']) fs.symlinkSync(multi, path.join(d, `${fam}${suffix}`));
  return d;
}

async function listing(node: LabNode, backend: Backend): Promise<string> {
  const argv = backend === 'nftables' ? ['nft', 'list', 'ruleset'] : [backend === 'iptables-legacy' ? 'iptables-legacy-save' : 'iptables-nft-save', '-t', 'nat'];
  const r = await run('ip', ['netns', 'exec', node.ns, ...argv], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in ${node.ns}: ${r.stderr.trim()}`);
  return r.stdout;
}

class ConfigVolume {
  private gen = 0;
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Atomic kubelet-style update: new `..vN` dir, `..data` symlink swapped by rename. */
  publish(text: string): void {
    this.gen++;
    const ts = path.join(this.dir, `..v${this.gen}`);
    fs.mkdirSync(ts);
    fs.writeFileSync(path.join(ts, 'egress-services'), text);
    fs.symlinkSync(`..v${this.gen}`, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    if (this.gen === 1) fs.symlinkSync('..data/egress-services', path.join(this.dir, 'egress-services'));
    else fs.rmSync(path.join(this.dir, `..v${this.gen - 1}`), { recursive: true, force: true });
  }
}

async function oneRun(lab: Lab, opts: ServicesOptions, backend: Backend, n: number, side: Side, runNo: number, metrics: MetricSet, log: (s: string) => void): Promise<void> {
  const node = await lab.addNode(`ha-${backend.replace('iptables-', 'ipt')}-${n}-${side}-${runNo}`);
  const kube = await startKubeApi(lab, node);
  const api = new FakeLocalAPI(path.join(node.dir, 'ts.sock'));
  api.state = 'Running';
  api.prefs = { WantRunning: true, AdvertiseServices: null, RelayServerPort: null };
  api.self = { ID: 1, StableID: 'nSelf', Name: 'cmp-ha.tailnet.ts.net.', Addresses: ['100.64.0.1/32'] };
  const vol = new ConfigVolume(path.join(node.dir, 'egress'));
  vol.publish('{}');
  const env: Record<string, string> = {
    ...kube.env, PATH: `${iptablesDir(node.dir, backend)}:${FAKE_BIN}:${path.dirname(NODE24)}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin`,
    FAKE_LOG: path.join(node.dir, 'fake.log'), TS_SOCKET: api.socketPath, TS_USERSPACE: 'false', TS_KUBE_SECRET: 'tailscale',
    TS_EGRESS_PROXIES_CONFIG_PATH: vol.dir, POD_IPS: '10.244.0.5', POD_NAME: 'proxy-0', POD_UID: 'uid-0',
    TS_DEBUG_FIREWALL_MODE: backend === 'nftables' ? 'nftables' : 'iptables',
  };
  Object.assign(env, oursNode(side));
  const cb = lab.startContainerboot(node, { env, name: `ha-${side}`, serviceAccountDir: kube.saDir, binary: opts.binaries[side] });
  // After the start: the lab removes a stale socket at TS_SOCKET first (as tailscaled's appears later).
  await api.listen();
  try {
    await cb.proc.waitForOutput(/configuring egress proxy using configuration file/, 60_000);
    await sleep(300);
    const step = async (label: string, want: Targets, text: string): Promise<void> => {
      const t0 = performance.timeOrigin + performance.now();
      vol.publish(text);
      const end = Date.now() + opts.timeoutMs;
      while (!statusMatches((await kube.secret('tailscale'))?.['egress-services'], want)) {
        if (!cb.proc.running) throw new Error(`${side} exited: ${cb.proc.tail(8)}`);
        if (Date.now() > end) throw new Error(`${side} ${backend} ${n}: no matching status within ${opts.timeoutMs} ms (${label})`);
        await sleep(5);
      }
      // Both programs apply the rules before they write the status (spec §7.1.3 steps 5–6), so the
      // clock stops when the API server applied the write that made the status match (its own
      // clock, not this poll's, whose round trip and 5 ms sleep would be counted otherwise); the
      // listing that follows only verifies the kernel. Counting it would add the bench's own
      // `nft list` / `iptables-save` (tens of ms at 500 services) to both sides. If it does not
      // match yet (rules after the status), the wait is counted.
      const written = (await kube.history('tailscale', 'egress-services')).find((c) => c.at >= t0 && statusMatches(c.value, want));
      if (!written) throw new Error(`${side} ${backend} ${n}: the API server has no record of the status write (${label})`);
      let tEnd = written.at;
      let late = false;
      while (!kernelMatches(dnatTargets(await listing(node, backend)), want)) {
        if (Date.now() > end) throw new Error(`${side} ${backend} ${n}: kernel rules do not match within ${opts.timeoutMs} ms (${label})`);
        late = true;
        await sleep(5);
      }
      if (late) tEnd = performance.timeOrigin + performance.now();
      const s = (tEnd - t0) / 1000;
      metrics.add(`HA egress ${n} svc × 2 ports, ${backend}: ${label}`, 's', side, s);
      log(`HA ${backend} ${n} ${side} run ${runNo}: ${label} ${s.toFixed(3)} s${late ? ' (rules after the status: listing wait counted)' : ''}`);
    };
    const a = targets(n, 64);
    const b = new Map(a);
    b.set('svc-0', '100.99.0.1');
    await step('config → all rules + status', a, configJSON(a));
    await step('one target changed', b, configJSON(b));
    await step('all removed', new Map(), '{}');
    metrics.add(`HA egress ${n} svc × 2 ports, ${backend}: peak RSS (VmHWM)`, 'MiB', side, mem(cb.pid).hwmMiB);
  } finally {
    await cb.stop(15_000);
    await kube.proc.stop(3000);
    await api.close();
  }
}

export async function runServices(lab: Lab, opts: ServicesOptions, metrics: MetricSet, log: (s: string) => void): Promise<void> {
  for (const n of opts.sizes) {
    for (const backend of opts.backends) {
      for (let r = 0; r < opts.runs; r++) {
        const order = r % 2 ? [...SIDES].reverse() : SIDES;
        for (const side of order) await oneRun(lab, opts, backend, n, side, r, metrics, log);
      }
    }
  }
}
