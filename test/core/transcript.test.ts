// The IPN bus parser and netmap model against REAL tailscaled v1.102.3 messages recorded in the lab
// (test/fixtures/ipnbus-*.ndjson, see docs/LAB.md), so the fake LocalAPI cannot drift from reality.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseJSONLossless } from '../../src/localapi/json.js';
import { effectiveState, hasLoginStateWarning, type Notify } from '../../src/localapi/notify.js';
import { applyNotify } from '../../src/netmap/update.js';
import { emptyNetmap, allPeers } from '../../src/netmap/types.js';
import { Scenario, REPO } from '../support/harness.js';

const lines = (name: string) => readFileSync(path.join(REPO, 'test/fixtures', `${name}.ndjson`), 'utf8').trim().split('\n');

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

describe('real bus transcripts', () => {
  it('login transcript: NeedsLogin → Starting → Running, netmap built from SelfChange/PeersChanged', () => {
    const st = emptyNetmap();
    const states: string[] = [];
    for (const l of lines('ipnbus-login')) {
      const n = parseJSONLossless(l) as Notify;
      const s = effectiveState(n);
      if (s) states.push(s);
      applyNotify(st, n);
    }
    expect(states[0]).toBe('NeedsLogin');
    expect(states).toContain('Starting');
    expect(states.at(-1)).toBe('Running');
    expect(st.self?.name).toMatch(/\.lab\.test\.$/);
    expect(st.self?.addresses.some((a) => a.startsWith('100.64.'))).toBe(true);
    expect(allPeers(st).length).toBeGreaterThan(0);
  });

  it('bad-key transcript carries ErrMessage and a login-state health warning', () => {
    const ns = lines('ipnbus-badkey').map((l) => parseJSONLossless(l) as Notify);
    expect(ns.some((n) => typeof n.ErrMessage === 'string' && n.ErrMessage.length > 0)).toBe(true);
    expect(ns.some(hasLoginStateWarning)).toBe(true);
  });

  it('containerboot boots against the replayed transcripts to Startup complete', async () => {
    const login = lines('ipnbus-login');
    const running = lines('ipnbus-running-28672');
    scn = new Scenario({ env: { TS_AUTH_ONCE: 'true', TS_ENABLE_HEALTH_CHECK: 'true', TS_LOCAL_ADDR_PORT: '127.0.0.1:0' } });
    scn.api.rawInitial = (i) => (i === 0 ? login[0] : i === 2 ? running[0] : undefined);
    const s = await scn.start();
    s.api.cliHandler = (call, api) => {
      if (call.args.includes('up')) {
        void (async () => {
          await api.until(() => api.openWatches > 0 && api.requests.filter((r) => r.path.includes('watch-ipn-bus')).length >= 2);
          api.writeRaw(login.slice(1).map((l) => `${l}\n`).join(''));
          await api.until(() => api.requests.filter((r) => r.path.includes('watch-ipn-bus')).length >= 3 && api.openWatches > 0);
          api.writeRaw(running.slice(1).map((l) => `${l}\n`).join(''));
        })();
        return 0;
      }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('Setting healthy true')).toBe(true);
    expect(s.hasLog('tailscaled in state "Starting", waiting')).toBe(true);
  });
});
