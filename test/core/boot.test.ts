// Scenario tests: the built bin/containerboot against the fake LocalAPI and fake binaries.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Scenario, goRunning, selfNode } from '../support/harness.js';

let scn: Scenario | undefined;
afterEach(async () => { await scn?.cleanup(); scn = undefined; });

async function start(env: Record<string, string>, opts: ConstructorParameters<typeof Scenario>[0] = {}) {
  scn = new Scenario({ ...opts, env });
  return scn.start();
}

describe('always-auth (default) mode', () => {
  it('runs tailscaled and tailscale up with upstream argv, then completes startup', async () => {
    const s = await start({ TS_AUTHKEY: 'tskey-secret-abc' });
    // `up` blocks until Running, like the real CLI.
    s.api.cliHandler = async (call, api) => {
      if (call.args.includes('up')) { goRunning(api); }
      return 0;
    };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands()).toEqual([
      `tailscaled --socket=${s.socket} --state=mem: --statedir=/tmp --tun=userspace-networking`,
      `tailscale --socket=${s.socket} up --accept-dns=false --authkey=tskey-secret-abc`,
    ]);
    expect(s.lines.join('\n')).not.toContain('tskey-secret-abc');
    expect(s.hasLog('Starting tailscaled')).toBe(true);
    expect(s.hasLog(`Waiting for tailscaled socket at ${s.socket}`)).toBe(true);
    expect(s.hasLog("Running 'tailscale up'")).toBe(true);
    // No /healthz served: upstream updates no health state, so it logs no "Setting healthy".
    expect(s.lines.some((l) => l.includes('Setting healthy'))).toBe(false);
    // Still running until signalled, then a clean exit: SIGTERM reaches tailscaled, exit 0.
    await new Promise((r) => setTimeout(r, 200));
    expect(s.proc.exitCode).toBeNull();
    s.signal('SIGTERM');
    const { code } = await s.waitExit();
    expect(code).toBe(0);
    expect(s.invocations().some((i) => i.prog === 'tailscaled' && i.event === 'SIGTERM')).toBe(true);
    expect(s.hasLog('Sending SIGTERM to tailscaled')).toBe(true);
  });

  it('logs out an in-memory node before stopping tailscaled (ephemeral cleanup, #14805)', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
    const paths = s.api.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain('POST /localapi/v0/logout');
    const logoutIdx = s.messages().findIndex((m) => m.startsWith('Logging out'));
    const termIdx = s.messages().indexOf('Sending SIGTERM to tailscaled');
    expect(logoutIdx).toBeGreaterThanOrEqual(0);
    expect(logoutIdx).toBeLessThan(termIdx);
  });

  it('does not log out when state is persisted in TS_STATE_DIR', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_STATE_DIR: '/tmp/state' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands()[0]).toBe(`tailscaled --socket=${s.socket} --statedir=/tmp/state --tun=userspace-networking`);
    s.signal('SIGTERM');
    expect((await s.waitExit()).code).toBe(0);
    expect(s.api.requests.some((r) => r.path === '/localapi/v0/logout')).toBe(false);
  });
});

describe('auth-once mode', () => {
  it('runs up only on NeedsLogin and set after Running', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_AUTH_ONCE: 'true', TS_ROUTES: '10.0.0.0/24', TS_HOSTNAME: 'h1' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands()).toEqual([
      `tailscaled --socket=${s.socket} --state=mem: --statedir=/tmp --tun=userspace-networking`,
      `tailscale --socket=${s.socket} up --accept-dns=false --authkey=k --advertise-routes=10.0.0.0/24 --hostname=h1`,
      `tailscale --socket=${s.socket} set --accept-dns=false --advertise-routes=10.0.0.0/24 --hostname=h1`,
    ]);
  });

  it('skips up when already Running', async () => {
    scn = new Scenario({ env: { TS_AUTH_ONCE: 'true' } });
    scn.api.state = 'Running';
    scn.api.self = selfNode();
    const s = await scn.start();
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands()).toEqual([
      `tailscaled --socket=${s.socket} --state=mem: --statedir=/tmp --tun=userspace-networking`,
      `tailscale --socket=${s.socket} set --accept-dns=false`,
    ]);
  });
});

describe('flag routing (set-only flags in TS_EXTRA_ARGS)', () => {
  it('keeps set-only flags away from up and applies them with set after Running', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_EXTRA_ARGS: '--login-server=http://ctl --relay-server-port=40000 --webclient --advertise-tags=tag:x' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.commands()).toEqual([
      `tailscaled --socket=${s.socket} --state=mem: --statedir=/tmp --tun=userspace-networking`,
      `tailscale --socket=${s.socket} up --accept-dns=false --authkey=k --login-server=http://ctl --advertise-tags=tag:x`,
      `tailscale --socket=${s.socket} set --relay-server-port=40000 --webclient`,
    ]);
  });
});

describe('LocalAPI usage details', () => {
  it('uses masks 28804 then 28672, sends Host and Tailscale-Cap, refreshes dns-config on SelfChange and tolerates its failure', async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    s.api.dnsConfigStatus = 500;
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    const watches = s.api.requests.filter((r) => r.path.startsWith('/localapi/v0/watch-ipn-bus')).map((r) => r.path);
    expect(watches).toEqual(['/localapi/v0/watch-ipn-bus?mask=28804', '/localapi/v0/watch-ipn-bus?mask=28672', '/localapi/v0/watch-ipn-bus?mask=28672']);
    for (const r of s.api.requests.filter((q) => q.path.startsWith('/localapi/'))) {
      expect(r.headers.host).toBe('local-tailscaled.sock');
      expect(r.headers['tailscale-cap']).toBe('142');
    }
    s.api.sendNetmap();
    await s.waitFor(() => s.api.requests.some((r) => r.path === '/localapi/v0/dns-config'), 'dns-config request');
    await s.waitLog('error refreshing DNS config from tailscaled: 500 Internal Server Error: no netmap');
    expect(s.proc.exitCode).toBeNull();
  });

  it('clears the previous serve config after login when TS_SERVE_CONFIG is set', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_SERVE_CONFIG: '/nonexistent/serve.json' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.hasLog('serve proxy: unsetting previous config')).toBe(true);
    const post = s.api.requests.find((r) => r.method === 'POST' && r.path === '/localapi/v0/serve-config')!;
    expect(post.body).toBe('{}');
    expect(s.api.serveConfig).toEqual({});
  });

  it('calls set-udp-gro-forwarding in kernel mode with forwarding optimizations', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_USERSPACE: 'false', TS_EXPERIMENTAL_ENABLE_FORWARDING_OPTIMIZATIONS: 'true' });
    s.api.cliHandler = (call, api) => { if (call.args.includes('up')) goRunning(api); return 0; };
    await s.waitLog('Startup complete, waiting for shutdown signal');
    expect(s.api.requests.some((r) => r.path === '/localapi/v0/set-udp-gro-forwarding')).toBe(true);
  });

  it('passes TS_CERT_SHARE_MODE to tailscaled only in cert-share mode', async () => {
    const s = await start({ TS_AUTHKEY: 'k', TS_EXPERIMENTAL_CERT_SHARE: 'true', POD_NAME: 'proxy-0' });
    await s.waitCommands(1);
    expect(s.invocations()[0].certShareMode).toBe('rw');
  });

  it("runs Node with the launcher's malloc tunable and hands tailscaled the caller's environment without it", async () => {
    const s = await start({ TS_AUTHKEY: 'k' });
    await s.waitCommands(1);
    // glibc read it at exec: it is in the process's initial environment…
    const environ = readFileSync(`/proc/${s.proc.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('GLIBC_TUNABLES=glibc.malloc.trim_threshold=0');
    // …and not in what the programs it starts get.
    expect(s.invocations()[0]).toMatchObject({ prog: 'tailscaled', glibcTunables: null, tunablesMark: null });
  });

  it("keeps the caller's own GLIBC_TUNABLES, for itself and for tailscaled", async () => {
    const s = await start({ TS_AUTHKEY: 'k', GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
    await s.waitCommands(1);
    const environ = readFileSync(`/proc/${s.proc.pid}/environ`, 'utf8').split('\0');
    expect(environ.filter((e) => e.startsWith('GLIBC_TUNABLES='))).toEqual(['GLIBC_TUNABLES=glibc.malloc.arena_max=2']);
    expect(s.invocations()[0]).toMatchObject({ prog: 'tailscaled', glibcTunables: 'glibc.malloc.arena_max=2', tunablesMark: null });
  });
});
