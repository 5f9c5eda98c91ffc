// Records real IPN-bus transcripts from tailscaled v1.102.3 against headscale v0.29.2 into
// test/fixtures/ipnbus-*.ndjson (raw lines exactly as tailscaled wrote them; auth keys scrubbed).
//   bash test/lab/run.sh test/lab/record-ipnbus.ts
import fs from 'node:fs';
import path from 'node:path';
import { Lab, LOGIN_SERVER, Peer, labTailscaleEnv, sleep } from './lab.js';
import { watchIPNBus } from './localapi.js';
import { REPO_ROOT } from './tools.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

function scrub(lines: string[], keys: string[]): string {
  let out = lines.join('\n') + '\n';
  for (const k of keys) out = out.replaceAll(k, 'hskey-auth-REDACTED');
  if (/hskey-auth-(?!REDACTED)/.test(out)) throw new Error('an auth key survived scrubbing');
  return out;
}

const log = (m: string) => console.log(`[record] ${m}`);
const lab = await Lab.start({ name: 'record', log });
const keys: string[] = [];
try {
  // An existing peer, so the fresh node's first netmap has one.
  const b = await lab.startPeer('pb', { hostname: 'lab-b' });
  log('lab-b running');

  // 1. The fresh node: watch with containerboot's boot mask before `up`, through Running, then a
  // peer joining (lab-c, ephemeral) and leaving (logout deletes an ephemeral node at once).
  const aNode = await lab.addNode('pa', { lan: true });
  const a = new Peer(lab, aNode, 'lab-a', false, { ...labTailscaleEnv(aNode.dir), TS_DEBUG_FIREWALL_MODE: 'nftables' });
  await a.startDaemon();
  lab.processes.push(a.proc);
  const w1 = await watchIPNBus(a.socket, 28804);
  await w1.waitFor(() => true, 5000, 'initial message');
  const keyA = await lab.createKey({ reusable: true });
  keys.push(keyA);
  const up = await a.cli(['up', `--login-server=${LOGIN_SERVER}`, `--auth-key=${keyA}`, '--hostname=lab-a', '--accept-dns=false', '--timeout=40s']);
  if (up.code !== 0) throw new Error(`up failed: ${up.stderr}`);
  await w1.waitFor((m) => m.State === 6, 30_000, 'State 6');
  log('lab-a running');
  // Let the first batch of health/netmap updates settle.
  await sleep(3000);
  const w2 = await watchIPNBus(a.socket, 28672);
  await w2.waitFor(() => true, 5000, 'initial message (28672)');

  const keyC = await lab.createKey({ ephemeral: true });
  keys.push(keyC);
  const c = await lab.startPeer('pc', { hostname: 'lab-c', authKey: keyC });
  await w1.waitFor((m) => (m.PeersChanged ?? []).some((p: any) => p.Name === 'lab-c.lab.test.'), 20_000, 'lab-c in PeersChanged');
  log('lab-c joined');
  await sleep(2000);
  const lo = await c.cli(['logout']);
  if (lo.code !== 0) throw new Error(`logout failed: ${lo.stderr}`);
  // headscale v0.29.2 announces the deletion as a new full netmap (SelfChange + PeersChanged
  // listing the remaining peers), not as PeersRemoved; accept either.
  await w1.waitFor(
    (m) => (m.PeersRemoved ?? []).length > 0 || (m.SelfChange && Array.isArray(m.PeersChanged) && !m.PeersChanged.some((p: any) => p.Name === 'lab-c.lab.test.')),
    20_000,
    'lab-c removal',
  );
  log('lab-c left');
  await sleep(1500);
  w1.close();
  w2.close();
  fs.writeFileSync(path.join(FIXTURES, 'ipnbus-login.ndjson'), scrub(w1.lines, keys));
  fs.writeFileSync(path.join(FIXTURES, 'ipnbus-running-28672.ndjson'), scrub(w2.lines, keys));

  // 2. A bad auth key: what a watcher sees while `tailscale up` fails.
  const dNode = await lab.addNode('pd', { lan: true });
  const d = new Peer(lab, dNode, 'lab-d', false, { ...labTailscaleEnv(dNode.dir) });
  await d.startDaemon();
  lab.processes.push(d.proc);
  const w3 = await watchIPNBus(d.socket, 28804);
  await w3.waitFor(() => true, 5000, 'initial message');
  const bad = 'hskey-auth-badbadbadbad-' + '0'.repeat(64);
  keys.push(bad);
  const upBad = await d.cli(['up', `--login-server=${LOGIN_SERVER}`, `--auth-key=${bad}`, '--hostname=lab-d', '--accept-dns=false', '--timeout=15s'], 30_000);
  log(`bad key: up exited ${upBad.code}: ${upBad.stderr.trim().replaceAll(bad, '<key>')}`);
  await w3.waitFor((m) => m.Health?.Warnings?.['login-state'] !== undefined, 20_000, 'login-state warning');
  await sleep(1000);
  w3.close();
  fs.writeFileSync(path.join(FIXTURES, 'ipnbus-badkey.ndjson'), scrub(w3.lines, keys));
  log(`wrote ${w1.lines.length} + ${w2.lines.length} + ${w3.lines.length} lines`);
  void b;
} finally {
  await lab.teardown();
}
