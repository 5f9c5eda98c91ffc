// Scenario tests for signals, exit codes, timeouts and failures in every phase (user-pains.md §2).
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, existsSync } from 'node:fs';
import { Scenario, goRunning } from '../support/harness.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

async function start(env: Record<string, string>, opts: ConstructorParameters<typeof Scenario>[0] = {}) {
  scn = new Scenario({ ...opts, env });
  return scn.start();
}

const upToRunning = (call: { args: string[] }, api: Parameters<typeof goRunning>[0]) => { if (call.args.includes('up')) goRunning(api); return 0; };

describe('invalid configuration', () => {
  it('exits 1 with one prefix, spawns nothing, writes nothing', async () => {
    const s = await start({ TS_DEST_IP: '10.0.0.1' /* userspace default */, TS_STATE_DIR: '/nonexistent-should-not-be-created' });
    const { code } = await s.waitExit();
    expect(code).toBe(1);
    expect(s.invocations()).toEqual([]);
    expect(s.hasLog('invalid configuration: TS_DEST_IP is not supported with TS_USERSPACE')).toBe(true);
    expect(s.lines.join('\n')).not.toContain('invalid configuration: invalid configuration');
    expect(existsSync('/nonexistent-should-not-be-created')).toBe(false);
  });
});

describe('socket wait', () => {
  it('is event-driven: proceeds as soon as the socket appears', async () => {
    const s = await start({ TS_AUTHKEY: 'k' }, { deferLocalAPI: true });
    s.api.cliHandler = upToRunning;
    await s.waitLog(`Waiting for tailscaled socket at ${s.socket}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.commands().length).toBe(1);
    await s.api.listen();
    await s.waitLog('Startup complete, waiting for shutdown signal');
  });

  it('SIGTERM while waiting for the socket stops tailscaled and exits 0 (upstream: exit 1, tailscaled orphaned)', async () => {
    const s = await start({ TS_AUTHKEY: 'k' }, { deferLocalAPI: true });
    await s.waitLog(`Waiting for tailscaled socket at ${s.socket}`);
    await s.waitCommands(1);
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
    expect(s.invocations().some((i) => i.event === 'SIGTERM')).toBe(true);
  });

  it('times out after TS_BOOT_TIMEOUT with upstream text and exit 1', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_BOOT_TIMEOUT: '500ms' }, { deferLocalAPI: true });
    expect((await s.waitExit()).code).toBe(1);
    expect(s.hasLog('failed to bring up tailscale: timed out waiting for tailscaled socket')).toBe(true);
  });
});

describe('signals in later phases', () => {
  it('SIGINT during the auth loop exits 0 after stopping tailscaled', async () => {
    const s = await start({ TS_AUTH_ONCE: 'true' });
    s.api.cliHandler = () => new Promise(() => {}); // `up` never returns (interactive login)
    await s.waitFor(() => s.commands().some((c) => c.includes(' up ')), 'tailscale up');
    s.signal('SIGINT');
    expect((await s.waitExit()).code).toBe(0);
    expect(s.invocations().some((i) => i.event === 'SIGTERM')).toBe(true);
  });

  it('a second SIGTERM during shutdown is swallowed', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = upToRunning;
    await s.waitLog('Startup complete, waiting for shutdown signal');
    s.signal('SIGTERM');
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
  });

  it('interactive login not finished within TS_BOOT_TIMEOUT exits 1', async () => {
    const s = await start({ TS_AUTH_ONCE: 'true', TS_BOOT_TIMEOUT: '1s' });
    s.api.cliHandler = () => new Promise(() => {});
    expect((await s.waitExit(15_000)).code).toBe(1);
    expect(s.messages().at(-1)).toMatch(/^failed to auth tailscale: failed to auth tailscale: tailscale up failed: /);
  });
});

describe('tailscaled failures', () => {
  it('tailscaled crash after startup makes containerboot exit non-zero (#17650)', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = upToRunning;
    await s.waitLog('Startup complete, waiting for shutdown signal');
    process.kill(s.daemonPid()!, 'SIGKILL');
    const { code } = await s.waitExit();
    expect(code).toBe(137);
    expect(s.hasLog('tailscaled exited')).toBe(true);
  });

  it('a crash that first shows as a broken bus still exits with the crash status, without shutdown calls', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = upToRunning;
    await s.waitLog('Startup complete, waiting for shutdown signal');
    const before = s.api.requests.length;
    // The real daemon's socket closes a moment before its exit is reaped.
    s.api.dropWatches();
    await new Promise((r) => setTimeout(r, 20));
    process.kill(s.daemonPid()!, 'SIGKILL');
    expect((await s.waitExit()).code).toBe(137);
    expect(s.hasLog('tailscaled exited unexpectedly (signal: killed); exiting with code 137')).toBe(true);
    // No shutdown-routine calls (unadvertise, logout) against the dead daemon.
    const after = s.api.requests.slice(before).map((r) => r.path);
    expect(after.filter((p) => p === '/localapi/v0/logout' || p === '/localapi/v0/prefs')).toEqual([]);
  });

  it('tailscaled crash during login exits non-zero promptly', async () => {
    const s = await start({ TS_AUTH_ONCE: 'true' });
    s.api.cliHandler = () => new Promise(() => {});
    await s.waitFor(() => s.commands().some((c) => c.includes(' up ')), 'tailscale up');
    process.kill(s.daemonPid()!, 'SIGKILL');
    expect((await s.waitExit()).code).not.toBe(0);
  });

  it('missing tailscaled binary: clear error, exit 1', async () => {
    const s = await start({ TS_AUTHKEY: 'k', PATH: '/usr/bin:/bin' });
    expect((await s.waitExit()).code).toBe(1);
    // Go's os/exec wording, as upstream (COMPATIBILITY.md C18), not Node's `spawn tailscaled ENOENT`.
    expect(s.messages().at(-1)).toBe('failed to bring up tailscale: starting tailscaled failed: exec: "tailscaled": executable file not found in $PATH');
  });

  it('tailscale up failure exits 1 with upstream message', async () => {
    const s = await start({ TS_AUTHKEY: 'bad' });
    s.api.cliHandler = () => 1;
    expect((await s.waitExit()).code).toBe(1);
    expect(s.messages().at(-1)).toBe('failed to auth tailscale: failed to auth tailscale: tailscale up failed: exit status 1');
  });

  it('leaving Running exits 1', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = upToRunning;
    await s.waitLog('Startup complete, waiting for shutdown signal');
    s.api.setState('NeedsLogin');
    expect((await s.waitExit()).code).toBe(1);
    expect(s.hasLog('tailscaled left running state (now in state "NeedsLogin"), exiting')).toBe(true);
  });

  it('one-step mode without a kube state store: NeedsLogin is fatal', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const d = mkdtempSync('/tmp/cb-cfgdir-');
    writeFileSync(`${d}/cap-100.hujson`, '{"Version":"alpha0","AuthKey":"x"}');
    const s = await start({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: d });
    expect((await s.waitExit()).code).toBe(1);
    expect(s.commands()[0]).toBe(`tailscaled --socket=${s.socket} --state=mem: --statedir=/tmp --tun=userspace-networking --config=${d}/cap-100.hujson`);
    expect(s.messages().join('\n')).toContain('invalid state: tailscaled daemon started with a config file, but tailscale is not logged in: ensure you pass a valid auth key in the config file');
    expect(s.commands().length).toBe(1);
  });
});

describe('auth loop details', () => {
  it('logs intermediate states and machine auth, tolerates notifications split across writes', async () => {
    const s = await start({ TS_AUTH_ONCE: 'true' });
    s.api.cliHandler = (call, api) => {
      if (call.args.includes('up')) {
        // After `up` returns, containerboot opens a new watch; drive the states through it.
        void (async () => {
          await api.until(() => api.openWatches > 0 && api.requests.filter((r) => r.path.includes('watch-ipn-bus')).length >= 2);
          api.setState('Starting');
          api.setState('NeedsMachineAuth');
          api.self = { ID: 1, StableID: 's', Name: 'n.ts.net.', Addresses: ['100.64.0.1/32'] };
          api.state = 'Running';
          // One notification written in two chunks.
          api.writeRaw('{"Version":"x","State"');
          await new Promise((r) => setTimeout(r, 50));
          api.writeRaw(':6}\n');
          api.sendNetmap();
        })();
      }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('tailscaled in state "Starting", waiting')).toBe(true);
    expect(s.hasLog('machine authorization required, please visit the admin panel')).toBe(true);
  });

  it('bus read error after startup exits 1', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = upToRunning;
    await s.waitLog('Startup complete, waiting for shutdown signal');
    s.api.dropWatches();
    expect((await s.waitExit()).code).toBe(1);
    expect(s.hasLog('failed to read from tailscaled: EOF')).toBe(true);
  });
});

describe('host preparation under TS_TEST_ONLY_ROOT', () => {
  it('kernel mode with routes enables IPv4+IPv6 forwarding; userspace leaves sysctls alone', async () => {
    const { readFileSync } = await import('node:fs');
    const s = await start({ TS_AUTHKEY: 'k', TS_USERSPACE: 'false', TS_ROUTES: '10.0.0.0/8,fd00::/64' });
    s.api.cliHandler = upToRunning;
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(readFileSync(`${s.root}/proc/sys/net/ipv4/ip_forward`, 'utf8')).toBe('1');
    expect(readFileSync(`${s.root}/proc/sys/net/ipv6/conf/all/forwarding`, 'utf8')).toBe('1');
    expect(s.commands()[0]).toBe(`tailscaled --socket=${s.socket} --state=mem: --statedir=/tmp`);
    await s.cleanup(); scn = undefined;
    const u = await start({ TS_AUTHKEY: 'k', TS_ROUTES: '10.0.0.0/8' });
    u.api.cliHandler = upToRunning;
    await u.waitLog('Startup complete, waiting for shutdown signal');
    expect(readFileSync(`${u.root}/proc/sys/net/ipv4/ip_forward`, 'utf8')).toBe('0');
    void readdirSync;
  });

  it('IP forwarding failure: upstream messages and exit 1 before spawning', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_USERSPACE: 'false', TS_ROUTES: '10.0.0.0/8' }, { prepareRoot: false });
    expect((await s.waitExit()).code).toBe(1);
    expect(s.hasLog('To run tailscale as a proxy or router container, IP forwarding must be enabled.')).toBe(true);
    expect(s.invocations()).toEqual([]);
  });
});
