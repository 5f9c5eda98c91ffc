// The LocalAPI fuzzed against the real bundled binary (fake tailscaled + fake LocalAPI): truncated,
// oversized, split and mistyped NDJSON lines on the IPN bus and HTTP errors with odd bodies.
// Documented behaviour (spec §3.2/§3.3, COMPATIBILITY): unknown fields and huge lines are read
// and ignored, the run goes on; an undecodable line ends the watch → `failed to read from
// tailscaled: decoding notification: …`, the shutdown routine runs (SIGTERM to tailscaled), exit 1;
// a failed watch at boot → `failed to watch tailscaled for updates: …`, exit 1; a failed dns-config
// refresh is logged and the run goes on. Never a stack trace.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';
import { fuzzParams, fuzzTimeout } from './arbitraries.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

async function running(): Promise<Scenario> {
  scn = new Scenario({ env: { TS_AUTHKEY: 'tskey-fuzz-bus', TS_STATE_DIR: '/tmp/cb-fuzz-state-unused' } });
  const s = await scn.start();
  s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
  await s.waitLog('Startup complete, waiting for shutdown signal');
  return s;
}

const base = { Version: '1.102.3', ErrMessage: null, LoginFinished: null, State: null, Prefs: null, NetMap: null, Engine: null, BrowseToURL: null };
const str = fc.string({ unit: 'grapheme', maxLength: 30 });

/** Lines a newer or odd tailscaled may send that must be read and ignored. */
const benign = fc.oneof(
  fc.dictionary(str, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((extra) => JSON.stringify({ ...extra, ...base, NewField: extra })),
  fc.integer({ min: 1 << 20, max: 6 << 20 }).map((n) => JSON.stringify({ ...base, Huge: 'x'.repeat(n) })),
  fc.tuple(str, fc.array(str, { maxLength: 3 })).map(([name, addrs]) => JSON.stringify({ ...base, SelfChange: { ID: 1, StableID: 'nSelf1CNTRL', Name: name, Addresses: addrs } })),
  fc.constantFrom('', '   ', JSON.stringify({ ...base, PeersChanged: null, PeersRemoved: [], Health: null })),
);

/** Lines Go's decoder rejects: the watch must end with a decode error. */
const undecodable = fc.oneof(
  fc.integer({ min: 1, max: 60 }).map((n) => JSON.stringify({ ...base, SelfChange: { ID: 1 } }).slice(0, n)),
  fc.constantFrom('5', '"Running"', '[]', 'true', '{', '{"State":}', '\u0000\u0001', '<html>', '{"State":"Running"}', '{"State":1.5}',
    '{"PeersChanged":5}', '{"PeersChanged":[1]}', '{"SelfChange":{"Addresses":"100.64.0.1/32"}}', '{"InitialStatus":{"Peer":{"k":7}}}',
    '{"PeersRemoved":["x"]}', '{"Health":{"Warnings":[]}}', '{"InitialStatus":{"ExtraRecords":{}}}'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((s) => `\u0001${s.replace(/\n/g, '')}`),
);

function noStack(s: Scenario): void {
  expect(s.lines.join('\n')).not.toMatch(/\n\s+at |unexpected error|TypeError|ReferenceError/);
}

describe('fuzz: IPN bus lines against bin/containerboot', () => {
  it('benign lines (unknown fields, 1–6 MiB lines, split writes): the run goes on', async () => {
    await fc.assert(fc.asyncProperty(benign, fc.boolean(), async (line, split) => {
      const s = await running();
      const text = `${line}\n`;
      if (split && text.length > 2) {
        s.api.writeRaw(text.slice(0, text.length >> 1));
        await new Promise((r) => setTimeout(r, 20));
        s.api.writeRaw(text.slice(text.length >> 1));
      } else {
        s.api.writeRaw(text);
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(s.proc.exitCode, s.lines.slice(-5).join('\n')).toBeNull();
      s.signal('SIGTERM');
      expect((await s.waitExit()).code).toBe(0);
      noStack(s);
      await s.cleanup(); scn = undefined;
    }), fuzzParams(6));
  }, fuzzTimeout(120_000));

  it('undecodable lines: decode error named, shutdown routine, exit 1', async () => {
    await fc.assert(fc.asyncProperty(undecodable, async (line) => {
      const s = await running();
      s.api.writeRaw(`${line}\n`);
      const exit = await s.waitExit(15_000);
      expect(exit.code, s.lines.slice(-5).join('\n')).toBe(1);
      expect(s.messages().some((m) => m.startsWith('failed to read from tailscaled: decoding notification: ')), s.lines.slice(-5).join('\n')).toBe(true);
      expect(s.hasLog('Sending SIGTERM to tailscaled')).toBe(true);
      expect(s.invocations().some((i) => i.prog === 'tailscaled' && i.event === 'SIGTERM')).toBe(true);
      noStack(s);
      await s.cleanup(); scn = undefined;
    }), fuzzParams(8));
  }, fuzzTimeout(120_000));
});

const oddBody = fc.oneof(
  fc.constantFrom('', '<html><body>502 Bad Gateway</body></html>', '{"error":5}', '{"error":""}', '{"Error":"bad things"}', 'null', '\u0000\u00ff'),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => 'e'.repeat(n)),
);
const status = fc.constantFrom(400, 403, 404, 405, 409, 500, 502, 503, 599);

describe('fuzz: LocalAPI HTTP errors against bin/containerboot', () => {
  it('the boot watch fails: `failed to watch tailscaled for updates`, exit 1', async () => {
    await fc.assert(fc.asyncProperty(status, oddBody, fc.boolean(), async (code, body, hangUp) => {
      scn = new Scenario({ env: { TS_AUTHKEY: 'tskey-fuzz-bus' } });
      scn.api.failures.set('watch-ipn-bus', [{ status: code, body, hangUp }]);
      const s = await scn.start();
      const exit = await s.waitExit(15_000);
      expect(exit.code, s.lines.slice(-5).join('\n')).toBe(1);
      expect(s.messages().some((m) => m.startsWith('failed to watch tailscaled for updates: ')), s.lines.slice(-3).join('\n').slice(0, 500)).toBe(true);
      expect(s.invocations().some((i) => i.prog === 'tailscaled' && i.event === 'SIGTERM')).toBe(true);
      noStack(s);
      await s.cleanup(); scn = undefined;
    }), fuzzParams(6));
  }, fuzzTimeout(120_000));

  it('dns-config refresh fails: logged, the run goes on', async () => {
    await fc.assert(fc.asyncProperty(status, oddBody, async (code, body) => {
      const s = await running();
      s.api.failures.set('dns-config', [{ status: code, body }]);
      const seen = s.lines.length;
      s.api.sendNetmap();
      await s.waitFor(() => s.lines.slice(seen).some((l) => l.includes('error refreshing DNS config from tailscaled: ')), 'dns-config error line');
      await new Promise((r) => setTimeout(r, 100));
      expect(s.proc.exitCode).toBeNull();
      s.signal('SIGTERM');
      expect((await s.waitExit()).code).toBe(0);
      noStack(s);
      await s.cleanup(); scn = undefined;
    }), fuzzParams(4));
  }, fuzzTimeout(120_000));
});
