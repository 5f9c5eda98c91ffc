import { describe, expect, it } from 'vitest';
import { pickModeFromInstalledRules, selectMode, type ModeDeps } from '../../src/firewall/mode.js';
import { NotFoundError } from '../../src/firewall/spawn.js';
import { variantFromVersion } from '../../src/firewall/iptables.js';

interface World {
  iptables?: 'missing' | 'fail' | string; // string = `-S` output
  ip6tables?: 'missing' | 'fail' | string;
  nft?: 'unavailable' | number; // number = rule count
}

function deps(w: World, calls: string[] = []): ModeDeps {
  return {
    run: async (cmd, args) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      const v = cmd === 'iptables' ? w.iptables : w.ip6tables;
      if (v === undefined || v === 'missing') throw new NotFoundError(`exec: "${cmd}": executable file not found in $PATH`);
      if (v === 'fail') return { code: 1, stdout: '', stderr: 'boom' };
      return { code: 0, stdout: v, stderr: '' };
    },
    nftProbe: () => { calls.push('nft probe'); if (w.nft === undefined || w.nft === 'unavailable') throw new Error('no nft'); },
    nftRuleCount: () => (typeof w.nft === 'number' ? w.nft : 0),
    ipv6: async () => true,
  };
}

const rules = (n: number) => ['-P INPUT ACCEPT', ...Array.from({ length: n }, (_, i) => `-A INPUT -s 10.0.0.${i}/32 -j DROP`)].join('\n');

describe('firewall mode selection (netfilter.md §1.6)', () => {
  it('TS_DEBUG_FIREWALL_MODE is exact and case-sensitive; anything else means iptables', async () => {
    const w: World = { iptables: rules(0), nft: 0 };
    expect(await selectMode({ TS_DEBUG_FIREWALL_MODE: 'nftables' }, deps(w))).toBe('nftables');
    expect(await selectMode({ TS_DEBUG_FIREWALL_MODE: 'iptables' }, deps(w))).toBe('iptables');
    expect(await selectMode({ TS_DEBUG_FIREWALL_MODE: 'NFTABLES' }, deps(w))).toBe('iptables');
    expect(await selectMode({ TS_DEBUG_FIREWALL_MODE: 'bogus' }, deps(w))).toBe('iptables');
  });

  it('default: iptables when the binary exists, nftables when it is missing', async () => {
    const calls: string[] = [];
    expect(await selectMode({}, deps({ iptables: 'fail', nft: 5 }, calls))).toBe('iptables');
    expect(calls).toEqual(['iptables -S']);
    expect(await selectMode({}, deps({ iptables: 'missing' }))).toBe('nftables');
    expect(await selectMode({ TS_DEBUG_FIREWALL_MODE: '' }, deps({ iptables: 'missing' }))).toBe('nftables');
  });

  it('auto counts installed rules', async () => {
    const cases: [World, string][] = [
      [{ iptables: rules(0), ip6tables: rules(0), nft: 3 }, 'nftables'],
      [{ iptables: rules(2), ip6tables: rules(0), nft: 0 }, 'iptables'],
      [{ iptables: rules(0), ip6tables: rules(1), nft: 0 }, 'iptables'],
      [{ iptables: rules(0), ip6tables: rules(0), nft: 0 }, 'nftables'],
      [{ iptables: rules(2), ip6tables: rules(2), nft: 4 }, 'nftables'],
      [{ iptables: rules(0), ip6tables: 'missing', nft: 'unavailable' }, 'iptables'],
      [{ iptables: 'missing', ip6tables: 'missing', nft: 'unavailable' }, 'iptables'],
      [{ iptables: 'missing', ip6tables: 'missing', nft: 0 }, 'nftables'],
    ];
    for (const [w, want] of cases) {
      expect(await pickModeFromInstalledRules(deps(w)), JSON.stringify(w)).toBe(want);
      expect(await selectMode({ TS_DEBUG_FIREWALL_MODE: 'auto' }, deps(w)), JSON.stringify(w)).toBe(want);
    }
  });

  it('reads the iptables variant from --version', () => {
    expect(variantFromVersion('iptables v1.8.9 (legacy)\n')).toBe('legacy');
    expect(variantFromVersion('iptables v1.8.9 (nf_tables)\n')).toBe('nft');
    expect(variantFromVersion('iptables v1.6.1\n')).toBe('');
  });
});
