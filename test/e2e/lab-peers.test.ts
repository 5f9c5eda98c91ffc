// The lab itself: two plain tailscaled v1.102.3 peers join headscale v0.29.2 through the embedded
// DERP and talk to each other. If this fails, every other real-stack test would too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type Peer } from '../lab/lab.js';

let lab: Lab;
let a: Peer;
let b: Peer;

beforeAll(async () => {
  lab = await Lab.start({ name: 'peers' });
}, 60_000);
afterAll(async () => {
  await lab?.teardown();
}, 60_000);

describe('real-stack lab', () => {
  it('brings two peers (userspace and kernel TUN) to Running through headscale', async () => {
    [a, b] = await Promise.all([lab.startPeer('pa', { hostname: 'lab-a' }), lab.startPeer('pb', { hostname: 'lab-b', kernel: true })]);
    const nodes = await lab.headscale.nodes();
    expect(nodes.map((n) => n.name).sort()).toEqual(['lab-a', 'lab-b']);
    const sa = await a.status();
    expect(sa.Self.DNSName).toBe('lab-a.lab.test.');
    expect(sa.TailscaleIPs[0]).toMatch(/^100\.64\.0\.\d+$/);
  }, 60_000);

  it('peers see each other and answer tailscale ping (DERP first, then direct over the bridge)', async () => {
    await a.waitForPeer('lab-b');
    const bip = await b.ip4();
    const r = await a.cli(['ping', '--until-direct', '--timeout=5s', '-c', '20', bip], 60_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pong from lab-b/);
    expect(r.stdout).toMatch(/via 10\.231\.7\.\d+:41641/);
  }, 60_000);

  it('a kernel-mode peer serves TCP on its tailnet IP to another kernel-mode peer', async () => {
    const c = await lab.startPeer('pc', { hostname: 'lab-c', kernel: true });
    await lab.startWebServer(b.node, 'lab-b-web', 8080);
    const bip = await b.ip4();
    await c.waitForPeer('lab-b');
    const res = await lab.curl(c.node, `http://${bip}:8080/x`, 10);
    expect(res.status, res.error).toBe(200);
    expect(res.body).toContain(`hello from lab-b-web; client=${await c.ip4()}`);
  }, 60_000);
});
