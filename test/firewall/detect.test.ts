// createFirewall's real detection path (TS_DEBUG_FIREWALL_MODE, auto, default) in a fresh netns.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, requireTools, sh } from './helpers/netns.js';

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

  it('a forced iptables mode without iptables fails with a clear error', async () => {
    const r = await lab.runEngine(ns, { mode: 'nftables', env: { TS_DEBUG_FIREWALL_MODE: 'iptables', PATH: '/nonexistent' }, steps: [] });
    expect(r.ok).toBe(false);
    expect(r.error).toBe('creating iptables runner: exec: "iptables": executable file not found in $PATH; run \'containerboot doctor\' (check "firewall.mode") for details');
  });

  it('without iptables in PATH the default becomes nftables', async () => {
    const r = await lab.runEngine(ns, { mode: 'iptables', env: { PATH: '/nonexistent' }, steps: [] });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, mode: 'nftables' });
  });

  it('auto picks iptables when only (legacy) iptables rules exist, and writes with the legacy tools', async () => {
    // A PATH where `iptables` is iptables-legacy, as in upstream's image.
    const bin = mkdtempSync(path.join(tmpdir(), 'cbfw-bin-'));
    try {
      for (const [name, target] of [['iptables', 'iptables-legacy'], ['ip6tables', 'ip6tables-legacy']]) {
        const real = (await sh('sh', ['-c', `command -v ${target}`])).stdout.trim();
        symlinkSync(real, path.join(bin, name));
      }
      const ns2 = await lab.netns('det2');
      await lab.exec(ns2, 'iptables-legacy', ['-w', '-A', 'INPUT', '-s', '192.0.2.99/32', '-j', 'DROP']);
      const r = await lab.runEngine(ns2, {
        mode: 'nftables', env: { TS_DEBUG_FIREWALL_MODE: 'auto', PATH: `${bin}:${process.env.PATH}` },
        steps: [{ groups: { a: [rule] } }],
      });
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, mode: 'iptables' });
      expect((await lab.exec(ns2, 'iptables-legacy-save', ['-t', 'nat'])).stdout).toContain('a|dnat 100.64.0.1>192.0.2.2');
      expect((await lab.exec(ns2, 'iptables-nft-save', ['-t', 'nat'])).stdout).not.toContain('a|dnat');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
