// Always-auth login with watch #2 opened as `tailscale up` starts and watch #3 (the run loop's)
// requested once it says Running (COMPATIBILITY C21): the built bin/containerboot against the
// fake LocalAPI, whose `tailscale up` handler looks at the watches while the CLI still runs.
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

const WATCH = '/localapi/v0/watch-ipn-bus';
const watches = (s: Scenario) => s.api.requests.filter((r) => r.path.startsWith(WATCH)).map((r) => r.path);
const RUN = `${WATCH}?mask=28672`;

async function start(env: Record<string, string>) {
  scn = new Scenario({ env });
  return scn.start();
}

/** Resolves to whether `pred` held within `ms`. */
const within = (s: Scenario, pred: () => boolean, ms: number) => s.api.until(pred, ms).then(() => true, () => false);

/** The run loop acts on a netmap sent now (it refreshes dns-config on SelfChange). */
async function runLoopAlive(s: Scenario): Promise<void> {
  await s.waitFor(() => s.api.openWatches === 1, 'only the run watch open');
  const before = s.api.requests.filter((r) => r.path === '/localapi/v0/dns-config').length;
  s.api.sendNetmap();
  await s.waitFor(() => s.api.requests.filter((r) => r.path === '/localapi/v0/dns-config').length > before, 'dns-config request');
  expect(s.proc.exitCode).toBeNull();
}

describe('watches #2 and #3 during tailscale up', () => {
  it('default always-auth boot: watch #2 is open while up runs, and the run watch is requested before up exits', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    let watchesAtUp = -1;
    let thirdBeforeExit = false;
    s.api.cliHandler = async (call, api) => {
      if (call.args.includes('up')) {
        watchesAtUp = watches(s).length;
        goRunning(api);
        thirdBeforeExit = await within(s, () => watches(s).length >= 3, 3000);
      }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(watchesAtUp).toBe(2);
    expect(thirdBeforeExit).toBe(true);
    expect(watches(s)).toEqual([`${WATCH}?mask=28804`, RUN, RUN]);
    await runLoopAlive(s);
  });

  it('not when `tailscale set` runs between them: the run watch comes after the set', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_EXTRA_ARGS: '--relay-server-port=40000' });
    let watchesAtSet = -1;
    s.api.cliHandler = (call, api) => {
      if (call.args.includes('up')) goRunning(api);
      if (call.args.includes('set')) watchesAtSet = watches(s).length;
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(watchesAtSet).toBe(2);
    expect(watches(s)).toEqual([`${WATCH}?mask=28804`, RUN, RUN]);
    await runLoopAlive(s);
  });

  it('up exits before Running: upstream\'s path, a fresh watch #2 logs the state it reports first', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = (call, api) => {
      if (call.args.includes('up')) {
        api.state = 'Starting'; // no notification: only a watch opened from now on reports it
        const go = () => setTimeout(() => goRunning(api), 50);
        void api.until(() => watches(s).length >= 3, 2000).then(go, go);
      }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('tailscaled in state "Starting", waiting')).toBe(true);
    // #1, the one opened during up (closed at its exit), the fresh #2, then postLogin's #3.
    expect(watches(s)).toEqual([`${WATCH}?mask=28804`, RUN, RUN, RUN]);
    await runLoopAlive(s);
  });

  it('a run watch opened before the state left Running is dropped, so the run loop does not see it leave', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = async (call, api) => {
      if (call.args.includes('up')) {
        goRunning(api);
        await api.until(() => watches(s).length >= 3 && api.openWatches >= 2, 3000, 'the run watch');
        api.setState('Starting');
        await api.until(() => api.openWatches === 1, 3000, 'the run watch closed');
        api.setState('Running');
        await api.until(() => watches(s).length >= 4, 3000, 'a second run watch');
      }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('tailscaled left running state')).toBe(false);
    expect(watches(s)).toEqual([`${WATCH}?mask=28804`, RUN, RUN, RUN]);
    await runLoopAlive(s);
  });
});
