// The bundled binary drives the REAL firewall backends (koffi + libnftables, iptables-restore) for the
// singleton proxies, inside a network namespace created for the test (fake tailscaled/CLI).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_BIN, Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
let ns: string | undefined;
let binDir: string | undefined;
afterEach(async () => {
  await scn?.cleanup(); scn = undefined;
  if (binDir) rmSync(binDir, { recursive: true, force: true });
  binDir = undefined;
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
  it('TS_DEST_IP rules (DNAT + MSS clamp): once, kept over a crash without duplicates, removed on a clean exit', async () => {
    const name = makeNetns();
    const env = {
      TS_AUTHKEY: 'k', TS_USERSPACE: 'false', TS_DEST_IP: '10.9.9.9', TS_DEBUG_FIREWALL_MODE: mode,
      TS_TEST_FAKE_NETFILTER: 'false', TS_TEST_ONLY_ROOT: '/',
    };
    const ours = () => {
      const dump = mode === 'nftables' ? run(['nft', 'list', 'ruleset']) : run(['iptables-save', '-t', 'nat']) + run(['iptables-save', '-t', 'mangle']);
      const lines = dump.split('\n');
      return { dump, dnat: lines.filter((l) => /100\.64\.0\.1/.test(l) && /10\.9\.9\.9/.test(l)).length, clamps: lines.filter((l) => /maxseg|TCPMSS/.test(l)).length };
    };
    // Round 0 crashes (SIGKILL: no shutdown phase), round 1 exits cleanly (SIGTERM).
    for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
      scn = new Scenario({ env, wrap: ['ip', 'netns', 'exec', name] });
      const s = await scn.start();
      s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
      await s.waitLog('Startup complete, waiting for shutdown signal');
      expect(s.hasLog('Installing proxy rules')).toBe(true);
      const running = ours();
      expect([running.dnat, running.clamps], `${sig} round, running:\n${running.dump}`).toEqual([1, 2]);
      s.signal(sig);
      const exit = await s.waitExit();
      if (sig === 'SIGTERM') expect(exit.code).toBe(0);
      await s.cleanup(); scn = undefined;
      const after = ours();
      // A crash keeps the rules (the next start reconciles them); a clean exit removes ours.
      expect([after.dnat, after.clamps], `after ${sig}:\n${after.dump}`).toEqual(sig === 'SIGKILL' ? [1, 2] : [0, 0]);
    }
    expect(run(['cat', '/proc/sys/net/ipv4/ip_forward']).trim()).toBe('1');
    if (mode === 'nftables') expect(run(['nft', 'list', 'ruleset'])).not.toContain('containerboot');
    else expect(run(['iptables-save'])).not.toMatch(/CB-[0-9a-f]{16}|containerboot/);
  });
});

// The firewall is created while tailscaled logs in (src/boot/prepare.ts); what the user sees stays
// upstream's: a firewall that cannot be created is reported at step 19, after Running and watch #3.
describe('firewall prepared during the login wait', () => {
  it('a firewall that cannot be created fails after Running, where upstream fails, with its prefix', async () => {
    const name = makeNetns();
    // An `iptables` that cannot report its version: creating the iptables runner fails.
    binDir = mkdtempSync(path.join(tmpdir(), 'cb-prep-bin-'));
    const marker = path.join(binDir, 'iptables-ran');
    writeFileSync(path.join(binDir, 'iptables'), `#!/bin/sh\ntouch ${marker}\necho "no xtables here" >&2\nexit 3\n`);
    chmodSync(path.join(binDir, 'iptables'), 0o755);
    scn = new Scenario({
      env: {
        TS_AUTHKEY: 'k', TS_USERSPACE: 'false', TS_DEST_IP: '10.9.9.9', TS_DEBUG_FIREWALL_MODE: 'iptables',
        TS_TEST_FAKE_NETFILTER: 'false', TS_TEST_ONLY_ROOT: '/', PATH: `${FAKE_BIN}:${binDir}:${process.env.PATH}`,
      },
      wrap: ['ip', 'netns', 'exec', name],
    });
    const s = await scn.start();
    let triedBeforeRunning: boolean | undefined;
    s.api.cliHandler = async (call, api) => {
      if (call.args.includes('up')) {
        // The login takes a while, as with a real control server: the firewall is tried meanwhile.
        for (let i = 0; i < 100 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
        triedBeforeRunning = existsSync(marker);
        goRunning(api);
      }
      return 0;
    };
    const { code } = await s.waitExit();
    expect(code).toBe(1);
    expect(triedBeforeRunning).toBe(true);
    const msgs = s.messages();
    const err = 'error creating new netfilter runner: creating iptables runner: iptables --version failed: no xtables here'
      + `; run 'containerboot doctor' (check "firewall.mode") for details`; // C20: our own wording gets the hint
    expect(msgs).toContain(err);
    expect(msgs.indexOf(err)).toBeGreaterThan(msgs.indexOf("Running 'tailscale up'"));
    expect(msgs).not.toContain('Startup complete, waiting for shutdown signal');
    expect(msgs).not.toContain('Installing proxy rules');
    // Reported after the run-loop watch (#3) was opened, i.e. at step 19 as upstream.
    const watches = s.api.requests.filter((r) => r.path.startsWith('/localapi/v0/watch-ipn-bus')).length;
    expect(watches).toBeGreaterThanOrEqual(3);
    expect(s.hasLog('Sending SIGTERM to tailscaled')).toBe(true);
  });
});
