// The bundled binary drives the REAL firewall backends (koffi + libnftables, iptables-restore) for the
// singleton proxies, inside a network namespace created for the test (fake tailscaled/CLI).
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
let ns: string | undefined;
afterEach(async () => {
  await scn?.cleanup(); scn = undefined;
  if (ns) { try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ } ns = undefined; }
});

function makeNetns(): string {
  const name = `cbcore-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  try {
    execFileSync('ip', ['netns', 'add', name]);
  } catch (e) {
    throw new Error(`cannot create network namespace (needs root and iproute2): ${(e as Error).message}`);
  }
  ns = name;
  return name;
}

const run = (args: string[]) => execFileSync('ip', ['netns', 'exec', ns!, ...args], { encoding: 'utf8' });

describe.each(['nftables', 'iptables'])('kernel-mode proxies with the real %s backend', (mode) => {
  it('TS_DEST_IP rules (DNAT + MSS clamp) are installed once and survive a restart without duplicates', async () => {
    const name = makeNetns();
    const env = {
      TS_AUTHKEY: 'k', TS_USERSPACE: 'false', TS_DEST_IP: '10.9.9.9', TS_DEBUG_FIREWALL_MODE: mode,
      TS_TEST_FAKE_NETFILTER: 'false', TS_TEST_ONLY_ROOT: '/',
    };
    for (let round = 0; round < 2; round++) {
      scn = new Scenario({ env, wrap: ['ip', 'netns', 'exec', name] });
      const s = await scn.start();
      s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
      await s.waitLog('Startup complete, waiting for shutdown signal');
      expect(s.hasLog('Installing proxy rules')).toBe(true);
      s.signal('SIGTERM');
      expect((await s.waitExit()).code).toBe(0);
      await s.cleanup(); scn = undefined;
    }
    expect(run(['cat', '/proc/sys/net/ipv4/ip_forward']).trim()).toBe('1');
    const dump = mode === 'nftables' ? run(['nft', 'list', 'ruleset']) : run(['iptables-save', '-t', 'nat']) + run(['iptables-save', '-t', 'mangle']);
    const dnat = dump.split('\n').filter((l) => /100\.64\.0\.1/.test(l) && /10\.9\.9\.9/.test(l));
    expect(dnat.length, dump).toBe(1);
    const clamps = dump.split('\n').filter((l) => /maxseg|TCPMSS/.test(l));
    expect(clamps.length, dump).toBe(2);
  });
});
