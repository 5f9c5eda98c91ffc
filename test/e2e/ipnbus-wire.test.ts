// (9) Wire check around the recorded IPN-bus transcripts (test/fixtures/ipnbus-*.ndjson):
//  - the live tailscaled v1.102.3 still speaks exactly the recorded shape (key order of the first
//    message, milestones of a login), so the fake LocalAPI that replays the fixture stays honest;
//  - containerboot's own bus decoding (line splitting at any chunk boundary, lossless JSON,
//    effective state, netmap model) consumes the real transcript correctly.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/localapi/ipnbus.js';
import { parseJSONLossless } from '../../src/localapi/json.js';
import { effectiveState, hasLoginStateWarning, triggersNetmapProcessing, type Notify } from '../../src/localapi/notify.js';
import { allPeers, emptyNetmap } from '../../src/netmap/types.js';
import { applyNotify } from '../../src/netmap/update.js';
import { Lab, LOGIN_SERVER, Peer, labTailscaleEnv } from '../lab/lab.js';
import { watchIPNBus } from '../lab/localapi.js';
import { REPO_ROOT } from '../lab/tools.js';

const FIX = (name: string) => fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** A compact description of one message: which fields are set, plus the state if any. */
function kind(line: string): string {
  const m = JSON.parse(line);
  const keys = Object.keys(m).filter((k) => k !== 'Version' && m[k] !== null && !(Array.isArray(m[k]) && m[k].length === 0 && k === 'DriveShares'));
  return keys.map((k) => (k === 'State' ? `State=${m.State}` : k)).join('+') || '(empty)';
}

/** Milestones of a login as seen on a 28804 watch, in order of first appearance. */
function milestones(ls: string[]): string[] {
  const out: string[] = [];
  const add = (s: string) => { if (!out.includes(s)) out.push(s); };
  for (const l of ls) {
    const m = JSON.parse(l);
    if (m.InitialStatus) add(`initial:${m.InitialStatus.BackendState}`);
    if (m.LoginFinished) add('LoginFinished');
    if (m.SelfChange && m.PeersChanged) add('SelfChange+PeersChanged');
    if (m.State === 5) add('State=5');
    if (m.State === 6) add('State=6');
  }
  return out;
}

describe('recorded fixtures through containerboot\'s bus decoding', () => {
  it('splits, decodes and folds ipnbus-login.ndjson at arbitrary chunk boundaries', () => {
    const text = FIX('ipnbus-login.ndjson');
    const want = lines(text);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 20; round++) {
      const split = new LineSplitter();
      const got: string[] = [];
      for (let i = 0; i < text.length; ) {
        const n = 1 + Math.floor(rnd() * (round < 5 ? 7 : 4000));
        got.push(...split.push(text.slice(i, i + n)));
        i += n;
      }
      expect(got).toEqual(want);
    }
    const states: string[] = [];
    const nm = emptyNetmap();
    let processing = 0;
    for (const l of want) {
      const n = parseJSONLossless(l) as Notify;
      expect(n.Version).toMatch(/^1\.102\.3/);
      const st = effectiveState(n);
      if (st) states.push(st);
      if (triggersNetmapProcessing(n)) processing++;
      applyNotify(nm, n);
    }
    expect(states[0]).toBe('NeedsLogin');
    expect(states).toContain('Starting');
    expect(states.at(-1)).toBe('Running');
    expect(states.indexOf('Starting')).toBeLessThan(states.indexOf('Running'));
    expect(processing).toBeGreaterThan(3);
    expect(nm.self?.name).toBe('lab-a.lab.test.');
    expect(nm.self?.addresses).toEqual(['100.64.0.2/32', 'fd7a:115c:a1e0::2/128']);
    const names = allPeers(nm).map((p) => p.name);
    expect(names).toContain('lab-b.lab.test.');
    expect(names).toContain('lab-c.lab.test.'); // joined; its deletion arrives only as a new full netmap
  });

  it('sees the bad-key transcript as NeedsLogin with a login-state warning and the control error', () => {
    const ls = lines(FIX('ipnbus-badkey.ndjson')).map((l) => parseJSONLossless(l) as Notify);
    expect(ls.map(effectiveState).filter(Boolean)).toEqual(['NeedsLogin', 'NeedsLogin']);
    expect(ls.some(hasLoginStateWarning)).toBe(true);
    expect(ls.some((n) => n.ErrMessage === 'invalid pre auth key')).toBe(true);
  });

  it('the run-loop transcript (mask 28672) starts with InitialStatus Running and no Prefs', () => {
    const first = parseJSONLossless(lines(FIX('ipnbus-running-28672.ndjson'))[0]) as Notify;
    expect(effectiveState(first)).toBe('Running');
    expect(first.Prefs).toBeNull();
    expect(triggersNetmapProcessing(first)).toBe(true);
  });
});

describe('the live tailscaled still matches the recorded transcript', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.start({ name: 'wire' });
  }, 60_000);
  afterAll(async () => {
    await lab?.teardown();
  }, 60_000);

  it('a fresh login on mask 28804 has the recorded key order and milestones', async () => {
    await lab.startPeer('pb', { hostname: 'lab-b' });
    const node = await lab.addNode('pa', { lan: true });
    const a = new Peer(lab, node, 'lab-a', false, labTailscaleEnv(node.dir));
    await a.startDaemon();
    lab.processes.push(a.proc);
    const w = await watchIPNBus(a.socket, 28804);
    await w.waitFor(() => true, 5000, 'initial message');
    const up = await a.cli(['up', `--login-server=${LOGIN_SERVER}`, `--auth-key=${await lab.createKey()}`, '--hostname=lab-a', '--accept-dns=false', '--timeout=40s']);
    expect(up.code, up.stderr).toBe(0);
    await w.waitFor((m) => m.State === 6, 30_000, 'State 6');
    w.close();

    const rec = lines(FIX('ipnbus-login.ndjson'));
    const live = w.lines;
    // First message: identical key order at every level containerboot reads.
    const r0 = JSON.parse(rec[0]);
    const l0 = JSON.parse(live[0]);
    expect(Object.keys(l0)).toEqual(Object.keys(r0));
    expect(Object.keys(l0.Prefs)).toEqual(Object.keys(r0.Prefs));
    expect(Object.keys(l0.InitialStatus)).toEqual(Object.keys(r0.InitialStatus));
    expect(Object.keys(l0.InitialStatus.Self)).toEqual(Object.keys(r0.InitialStatus.Self));
    expect(kind(live[0])).toBe(kind(rec[0]));
    // The same login milestones; tailscaled does not fix the order of SelfChange relative to
    // State=5 (localapi.md §1.4), so only the fixed points are compared by position.
    const recordedUntilRunning = rec.slice(0, rec.findIndex((l) => JSON.parse(l).State === 6) + 1);
    const lm = milestones(live);
    const rm = milestones(recordedUntilRunning);
    expect([...lm].sort()).toEqual([...rm].sort());
    expect(lm[0]).toBe('initial:NeedsLogin');
    expect(lm.at(-1)).toBe('State=6');
    expect(lm.indexOf('LoginFinished')).toBeLessThan(lm.indexOf('SelfChange+PeersChanged'));
    // Node objects carry the same keys in the same order.
    const nodeKeys = (ls: string[]) => Object.keys(JSON.parse(ls.find((l) => JSON.parse(l).SelfChange)!).SelfChange);
    expect(nodeKeys(live)).toEqual(nodeKeys(rec));
  }, 90_000);
});
