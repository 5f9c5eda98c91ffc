// Memory of this project's containerboot doing HA egress services, without the lab's headscale:
// the same workload as bench/compare/services.ts (kernel mode, TS_EGRESS_PROXIES_CONFIG_PATH,
// fake LocalAPI already Running, fake Kubernetes API, real netfilter in a fresh namespace
// `cbmem-<pid>` deleted afterwards, config swapped the kubelet's way), printing /proc memory of
// the containerboot process after each step. Root only.
//   bash test/lab/run.sh bench/haMem.ts [--services 500] [--backends nftables,iptables-legacy,iptables-nft] [--runs 1]
// CONTAINERBOOT_NODE (a wrapper adding Node flags) is passed through, as in compare-upstream.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKubeApi } from '../test/lab/kube.js';
import type { Lab, LabNode } from '../test/lab/lab.js';
import { livePids, run, spawnInNs, sleep, type LabProcess } from '../test/lab/proc.js';
import { CONTAINERBOOT, NODE24 } from '../test/lab/tools.js';
import { FAKE_BIN } from '../test/support/harness.js';
import { FakeLocalAPI } from '../test/support/fakeLocalAPI.js';
import { configJSON, dnatTargets, targets, type Backend } from './compare/services.js';
import { writeAtomically } from '../test/kube/atomicWriter.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const N = Number(arg('services', '500'));
const backends = arg('backends', 'nftables,iptables-legacy').split(',') as Backend[];
const runs = Number(arg('runs', '1'));

function memLine(pid: number): string {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const f = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? NaN) / 1024;
  return `rss ${f('VmRSS').toFixed(1)} anon ${f('RssAnon').toFixed(1)} file ${f('RssFile').toFixed(1)} hwm ${f('VmHWM').toFixed(1)} MiB`;
}

function iptablesDir(dir: string, backend: Backend): string {
  const d = path.join(dir, backend);
  fs.mkdirSync(d, { recursive: true });
  if (backend === 'nftables') return d;
  const multi = backend === 'iptables-legacy' ? '/usr/sbin/xtables-legacy-multi' : '/usr/sbin/xtables-nft-multi';
  for (const fam of ['iptables', 'ip6tables']) for (const s of ['', '-save', '-restore']) fs.symlinkSync(multi, path.join(d, `${fam}${s}`));
  return d;
}

async function oneRun(backend: Backend, runNo: number): Promise<number> {
  const ns = `cbmem-${process.pid}-${runNo}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cbmem-'));
  await run('ip', ['netns', 'add', ns]);
  const procs: LabProcess[] = [];
  const lab = { id: `cbmem${process.pid}`, processes: procs } as unknown as Lab;
  const node: LabNode = { role: 'ha', ns, dir } as LabNode;
  let api: FakeLocalAPI | undefined;
  try {
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const kube = await startKubeApi(lab, node);
    api = new FakeLocalAPI(path.join(dir, 'ts.sock'));
    api.state = 'Running';
    api.prefs = { WantRunning: true, AdvertiseServices: null, RelayServerPort: null };
    api.self = { ID: 1, StableID: 'nSelf', Name: 'cmp-ha.tailnet.ts.net.', Addresses: ['100.64.0.1/32'] };
    const vol = path.join(dir, 'egress');
    fs.mkdirSync(vol);
    const publish = (text: string) => writeAtomically(vol, { 'egress-services': text });
    publish('{}');
    const env: Record<string, string> = {
      ...kube.env, PATH: `${iptablesDir(dir, backend)}:${FAKE_BIN}:${path.dirname(NODE24)}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: dir, FAKE_LOG: path.join(dir, 'fake.log'), TS_SOCKET: api.socketPath, TS_USERSPACE: 'false', TS_KUBE_SECRET: 'tailscale',
      TS_EGRESS_PROXIES_CONFIG_PATH: vol, POD_IPS: '10.244.0.5', POD_NAME: 'proxy-0', POD_UID: 'uid-0',
      TS_DEBUG_FIREWALL_MODE: backend === 'nftables' ? 'nftables' : 'iptables',
      ...(process.env.CONTAINERBOOT_NODE ? { CONTAINERBOOT_NODE: process.env.CONTAINERBOOT_NODE } : {}),
      ...(process.env.CBPROBE_FLAGS ? { CBPROBE_FLAGS: process.env.CBPROBE_FLAGS } : {}),
      ...(process.env.CBPROBE_ENV ? { CBPROBE_ENV: process.env.CBPROBE_ENV } : {}),
    };
    const cb = spawnInNs(ns, [process.env.CBMEM_BIN ?? CONTAINERBOOT], { name: 'cb', env, logPath: path.join(dir, 'cb.log'), serviceAccountDir: kube.saDir });
    procs.push(cb);
    await api.listen();
    await cb.waitForOutput(/configuring egress proxy using configuration file/, 60_000);
    await sleep(300);
    console.log(`${backend} ${N} run ${runNo}: started          ${memLine(cb.pid)}`);
    if (process.env.CBMEM_USR2_START) { process.kill(cb.pid, 'SIGUSR2'); await sleep(500); }
    const want = async (label: string, t: Map<string, string>, text: string) => {
      const t0 = performance.now();
      publish(text);
      for (;;) {
        const st = (await kube.secret('tailscale'))?.['egress-services'];
        const ok = st !== undefined && Object.keys(JSON.parse(st).services ?? {}).length === t.size
          && [...t].every(([s, ip]) => JSON.parse(st).services[s]?.tailnetTargetIPs?.[0] === ip);
        if (ok) break;
        if (!cb.running) throw new Error(`containerboot exited: ${cb.tail(10)}`);
        await sleep(5);
      }
      const tStatus = (performance.now() - t0) / 1000;
      const list = backend === 'nftables' ? ['nft', 'list', 'ruleset'] : [backend === 'iptables-legacy' ? 'iptables-legacy-save' : 'iptables-nft-save', '-t', 'nat'];
      for (;;) {
        const found = dnatTargets((await run('ip', ['netns', 'exec', ns, ...list], { timeoutMs: 60_000 })).stdout);
        const n = [...found].filter((d) => d.startsWith('100.') && (d.endsWith(':8080') || d.endsWith(':5353'))).length;
        if (n === t.size * 2) break;
        await sleep(5);
      }
      const s = (performance.now() - t0) / 1000;
      await sleep(200);
      console.log(`${backend} ${N} run ${runNo}: ${label.padEnd(16)} ${memLine(cb.pid)}  (${s.toFixed(3)} s, status at ${tStatus.toFixed(3)} s)`);
      if (process.env.CBMEM_SNAP) { process.kill(cb.pid, 'SIGUSR2'); await sleep(4000); }
    };
    const a = targets(N, 64);
    const b = new Map(a);
    b.set('svc-0', '100.99.0.1');
    await want('all added', a, configJSON(a));
    await want('one changed', b, configJSON(b));
    await want('all removed', new Map(), '{}');
    if (process.env.CBMEM_SMAPS) fs.writeFileSync(`${process.env.CBMEM_SMAPS}-${backend}.txt`, fs.readFileSync(`/proc/${cb.pid}/smaps`, 'utf8'));
    return cb.pid;
  } finally {
    for (const p of procs.reverse()) await p.stop(10_000).catch(() => undefined);
    await api?.close();
    for (const pid of livePids) if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await run('ip', ['netns', 'del', ns]);
    if (!process.env.CBMEM_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

for (let r = 0; r < runs; r++) for (const b of backends) await oneRun(b, r);
