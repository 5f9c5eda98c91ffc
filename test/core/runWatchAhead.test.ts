// Watch #3 (the run loop's) opened alongside watch #2 when nothing runs between them: the built
// bin/containerboot against the fake LocalAPI, which holds watch #2's first message back so the
// order of requests shows whether the third watch was asked for before the second was read.
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

const WATCH = '/localapi/v0/watch-ipn-bus';
const watches = (s: Scenario) => s.api.requests.filter((r) => r.path.startsWith(WATCH)).map((r) => r.path);

/** Holds watch #2's first message until a third watch is requested or `ms` pass; resolves to which came first. */
function holdSecond(s: Scenario, ms: number): Promise<'third watch' | 'timeout'> {
  let outcome!: Promise<'third watch' | 'timeout'>;
  s.api.holdInitial = (i) => {
    if (i !== 1) return undefined;
    outcome = s.api.until(() => watches(s).length >= 3, ms, 'a third watch').then(() => 'third watch' as const, () => 'timeout' as const);
    return outcome;
  };
  return new Promise((resolve) => {
    const t = setInterval(() => { if (outcome) { clearInterval(t); resolve(outcome); } }, 5);
  });
}

async function start(env: Record<string, string>) {
  scn = new Scenario({ env });
  return scn.start();
}

describe('watch #3 opened alongside watch #2', () => {
  it('default always-auth boot: the run watch is requested before watch #2 is read, and the run loop uses it', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    const order = holdSecond(s, 3000);
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(await order).toBe('third watch');
    expect(watches(s)).toEqual([`${WATCH}?mask=28804`, `${WATCH}?mask=28672`, `${WATCH}?mask=28672`]);
    // Watch #2 is closed; the early watch is the run loop's: a netmap on it is acted on.
    await s.waitFor(() => s.api.openWatches === 1, 'one open watch');
    s.api.sendNetmap();
    await s.waitFor(() => s.api.requests.some((r) => r.path === '/localapi/v0/dns-config'), 'dns-config request');
  });

  it('not when `tailscale set` runs between them: the run watch comes after the set', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_EXTRA_ARGS: '--relay-server-port=40000' });
    let watchesAtSet = -1;
    s.api.cliHandler = (call, api) => {
      if (call.args.includes('up')) goRunning(api);
      if (call.args.includes('set')) watchesAtSet = watches(s).length;
      return 0;
    };
    const order = holdSecond(s, 500);
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(await order).toBe('timeout');
    expect(watchesAtSet).toBe(2);
    expect(watches(s)).toHaveLength(3);
  });

  it('dropped when watch #2 first says anything but Running; a fresh run watch follows', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = (call, api) => {
      if (call.args.includes('up')) {
        api.state = 'Starting';
        const go = () => setTimeout(() => goRunning(api), 50);
        void api.until(() => watches(s).length >= 3, 1000, 'watch #3').then(go, go);
      }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('tailscaled in state "Starting", waiting')).toBe(true);
    expect(watches(s)).toEqual([`${WATCH}?mask=28804`, `${WATCH}?mask=28672`, `${WATCH}?mask=28672`, `${WATCH}?mask=28672`]);
    await s.waitFor(() => s.api.openWatches === 1, 'only the fresh run watch open');
    s.api.sendNetmap();
    await s.waitFor(() => s.api.requests.some((r) => r.path === '/localapi/v0/dns-config'), 'dns-config request');
  });
});
