// Auto-advertisement wired to the run loop (COMPATIBILITY S11): the built bin/containerboot
// against the fake LocalAPI. After a processed netmap it reads tailscaled's serve config and
// PATCHes AdvertiseServices when the set of Services changed, in the background.
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

async function start(env: Record<string, string>) {
  scn = new Scenario({ env });
  const s = await scn.start();
  s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
  return s;
}

const patches = (s: Scenario) => s.api.of('PATCH', '/localapi/v0/prefs').map((r) => JSON.parse(r.body) as unknown);
const serveGets = (s: Scenario) => s.api.of('GET', '/localapi/v0/serve-config').length;

describe('auto-advertisement after netmaps', () => {
  it('advertises the serve config\'s Services after the first netmap and again when the set changes', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.serveConfig = { Services: { 'svc:web': {} } };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    await s.waitFor(() => patches(s).length === 1, 'the first PATCH of prefs');
    expect(patches(s)[0]).toEqual({ AdvertiseServices: ['svc:web'], AdvertiseServicesSet: true });

    // The same set again: read, not PATCHed.
    const before = serveGets(s);
    s.api.sendNetmap();
    await s.waitFor(() => serveGets(s) > before, 'a serve-config GET after the netmap');
    s.api.serveConfig = { Services: { 'svc:web': {}, 'svc:api': {} } };
    s.api.sendNetmap();
    await s.waitFor(() => patches(s).length === 2, 'the second PATCH of prefs');
    expect((patches(s)[1] as { AdvertiseServices: string[] }).AdvertiseServices.sort()).toEqual(['svc:api', 'svc:web']);
  });

  it('reads no serve config when TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT=false', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT: 'false' });
    s.api.serveConfig = { Services: { 'svc:web': {} } };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    s.api.sendNetmap();
    await new Promise((r) => setTimeout(r, 300));
    expect(serveGets(s)).toBe(0);
    expect(patches(s)).toEqual([]);
  });
});
