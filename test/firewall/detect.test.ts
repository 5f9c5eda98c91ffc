// createFirewall's real detection path (TS_DEBUG_FIREWALL_MODE, auto, default) in a fresh netns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, requireTools } from './helpers/netns.js';

describe('createFirewall mode detection in a fresh network namespace', () => {
  const lab = new Lab();
  let ns: string;
  beforeAll(async () => {
    await requireTools(['iptables', 'ip6tables', 'nft', 'ip']);
    ns = await lab.netns('det');
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);

  const rule = { kind: 'dnat' as const, family: 4 as const, dst: '100.64.0.1', to: '192.0.2.2' };

  it('auto picks nftables when no rules exist anywhere', async () => {
    const r = await lab.runEngine(ns, { mode: 'iptables', env: { TS_DEBUG_FIREWALL_MODE: 'auto' }, steps: [{ groups: { a: [rule] } }, { groups: { a: [] } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, mode: 'nftables', ipv6nat: true });
  });

  it('the default is iptables, with IPv6 NAT when ip6tables can list nat', async () => {
    const r = await lab.runEngine(ns, { mode: 'nftables', env: {}, steps: [{ groups: { a: [rule] } }, { groups: { a: [] } }] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, mode: 'iptables', ipv6nat: true });
  });

  it('TS_DEBUG_FIREWALL_MODE=nftables and =iptables are honoured', async () => {
    for (const m of ['nftables', 'iptables']) {
      const r = await lab.runEngine(ns, { mode: 'iptables', env: { TS_DEBUG_FIREWALL_MODE: m }, steps: [] });
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, mode: m });
    }
  });

  it('without iptables in PATH the default becomes nftables', async () => {
    const r = await lab.runEngine(ns, { mode: 'iptables', env: { PATH: '/nonexistent' }, steps: [] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, mode: 'nftables' });
  });
});
