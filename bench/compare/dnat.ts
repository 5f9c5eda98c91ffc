// Singleton egress half of bench/compare-upstream: TS_TAILNET_TARGET_FQDN in kernel mode against
// the fake LocalAPI (already Running) in a fresh lab namespace; each netmap moves the target peer
// to a new address, timed from the bus write until the kernel has a DNAT rule to it (nftables:
// `nft monitor rules` events; iptables-legacy: `iptables-legacy-save` polled, so its resolution is
// one listing, ~2–4 ms). Also the memory after all those netmap changes.
import path from 'node:path';
import type { Lab } from '../../test/lab/lab.js';
import { sleep } from '../../test/lab/lab.js';
import { run, spawnInNs } from '../../test/lab/proc.js';
import { NODE24 } from '../../test/lab/tools.js';
import { FAKE_BIN } from '../../test/support/harness.js';
import { FakeLocalAPI } from '../../test/support/fakeLocalAPI.js';
import { mem } from './procfs.js';
import { oursNode, SIDES, type MetricSet, type Side } from './stats.js';

export type DnatBackend = 'nftables' | 'iptables-legacy';
export interface DnatOptions { changes: number; backends: DnatBackend[]; binaries: Record<Side, string> }

const FQDN = 'cmp-target.tailnet.ts.net';
const addr = (i: number) => `100.70.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

async function oneSide(lab: Lab, opts: DnatOptions, backend: DnatBackend, side: Side, metrics: MetricSet, log: (s: string) => void): Promise<void> {
  const node = await lab.addNode(`dnat-${backend === 'nftables' ? 'nft' : 'ipt'}-${side}`);
  const api = new FakeLocalAPI(path.join(node.dir, 'ts.sock'));
  api.state = 'Running';
  api.prefs = { WantRunning: true, AdvertiseServices: null, RelayServerPort: null };
  api.self = { ID: 1, StableID: 'nSelf', Name: 'cmp-dnat.tailnet.ts.net.', Addresses: ['100.64.0.1/32'] };
  const peer = (i: number) => ({ ID: 2, StableID: 'nTarget', Name: `${FQDN}.`, Key: `nodekey:${'2'.repeat(64)}`, Addresses: [`${addr(i)}/32`], AllowedIPs: [`${addr(i)}/32`] });
  api.peers = [peer(0)];
  const iptDir = path.join(node.dir, 'ipt');
  if (backend === 'iptables-legacy') {
    const fs = await import('node:fs');
    fs.mkdirSync(iptDir, { recursive: true });
    for (const fam of ['iptables', 'ip6tables']) for (const s of ['', '-save', '-restore']) fs.symlinkSync('/usr/sbin/xtables-legacy-multi', path.join(iptDir, `${fam}${s}`));
  }
  const monitor = backend === 'nftables'
    ? spawnInNs(node.ns, ['nft', 'monitor', 'rules'], { name: `nft-monitor-${side}`, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, logPath: path.join(node.dir, 'monitor.log') })
    : undefined;
  if (monitor) lab.processes.push(monitor);
  const env: Record<string, string> = {
    PATH: `${iptDir}:${FAKE_BIN}:${path.dirname(NODE24)}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_LOG: path.join(node.dir, 'fake.log'),
    TS_SOCKET: api.socketPath, TS_USERSPACE: 'false', TS_TAILNET_TARGET_FQDN: FQDN, TS_DEBUG_FIREWALL_MODE: backend === 'nftables' ? 'nftables' : 'iptables',
  };
  Object.assign(env, oursNode(side));
  const cb = lab.startContainerboot(node, { env, name: `dnat-${side}`, binary: opts.binaries[side] });
  // After the start: the lab removes a stale socket at TS_SOCKET first (as tailscaled's appears later).
  await api.listen();
  const seen = async (ip: string, from: number): Promise<boolean> => {
    if (monitor) return monitor.output().indexOf(ip, from) >= 0;
    const r = await run('ip', ['netns', 'exec', node.ns, 'iptables-legacy-save', '-t', 'nat']);
    return r.stdout.includes(`--to-destination ${ip}`);
  };
  try {
    await cb.waitStartupComplete(30_000);
    await sleep(500);
    const lat: number[] = [];
    for (let i = 1; i <= opts.changes + 1; i++) {
      const from = monitor?.output().length ?? 0;
      api.peers = [peer(i)];
      const t0 = performance.now();
      api.sendNetmap();
      const end = Date.now() + 10_000;
      while (!(await seen(addr(i), from))) {
        if (!cb.proc.running) throw new Error(`${side} exited: ${cb.proc.tail(8)}`);
        if (Date.now() > end) throw new Error(`${side} ${backend}: no DNAT to ${addr(i)} within 10 s`);
        await sleep(monitor ? 0.5 : 0);
      }
      if (i > 1) lat.push(performance.now() - t0); // the first move is a warm-up
      await sleep(20);
    }
    for (const v of lat) metrics.add(`netmap change → DNAT in kernel (${backend}), p50 of ${opts.changes}`, 'ms', side, v, 0.5);
    for (const v of lat) metrics.add(`netmap change → DNAT in kernel (${backend}), p99 of ${opts.changes}`, 'ms', side, v, 0.99);
    await sleep(1000);
    const m = mem(cb.pid);
    metrics.add(`egress FQDN (${backend}): RSS after ${opts.changes + 1} netmap changes`, 'MiB', side, m.rssMiB);
    metrics.add(`egress FQDN (${backend}): anonymous RSS after ${opts.changes + 1} netmap changes`, 'MiB', side, m.anonMiB);
    log(`DNAT ${backend} ${side}: ${lat.length} changes, RSS ${m.rssMiB.toFixed(1)} MiB`);
  } finally {
    await cb.stop(15_000);
    await monitor?.stop(2000);
    await api.close();
  }
}

export async function runDnat(lab: Lab, opts: DnatOptions, metrics: MetricSet, log: (s: string) => void): Promise<void> {
  for (const backend of opts.backends) for (const side of SIDES) await oneSide(lab, opts, backend, side, metrics, log);
}
