// The variables this project adds, on the real stack (tailscaled/tailscale v1.102.3 + headscale):
// TS_LOGIN_SERVER (and its precedence against TS_EXTRA_ARGS) and TS_AUTHKEY_FILE read from a
// Docker-secrets-style /run/secrets/ts_authkey in containerboot's private mount namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_SERVER, Lab, waitFor } from '../lab/lab.js';

let lab: Lab;
beforeAll(async () => { lab = await Lab.start({ name: 'newvars' }); }, 60_000);
afterAll(async () => { await lab?.teardown(); }, 90_000);

describe('issue 13 variables on the real stack', () => {
  it('TS_LOGIN_SERVER alone (no TS_EXTRA_ARGS) logs in to headscale; prefs carry the control URL', async () => {
    const pod = await lab.addNode('ls', { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY: await lab.createKey(), TS_HOSTNAME: 'cb-loginserver', TS_LOGIN_SERVER: LOGIN_SERVER } });
    expect(cb.env.TS_EXTRA_ARGS).toBeUndefined();
    const st = await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    expect(st.Self.HostName).toBe('cb-loginserver');
    expect((await cb.prefs()).ControlURL).toBe(LOGIN_SERVER);
    await waitFor('cb-loginserver in headscale', async () => (await lab.headscale.nodes()).some((n) => n.name === 'cb-loginserver'), 15_000);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 90_000);

  it('--login-server in TS_EXTRA_ARGS wins over TS_LOGIN_SERVER, with one warning', async () => {
    const pod = await lab.addNode('lsx', { lan: true });
    const cb = lab.startContainerboot(pod, {
      env: {
        TS_AUTHKEY: await lab.createKey(),
        TS_HOSTNAME: 'cb-loginserver-x',
        // Nothing listens on port 9: were this one used, login would never complete.
        TS_LOGIN_SERVER: 'http://10.231.7.1:9',
        TS_EXTRA_ARGS: `--login-server=${LOGIN_SERVER}`,
      },
    });
    await cb.waitRunning();
    expect((await cb.prefs()).ControlURL).toBe(LOGIN_SERVER);
    const warnings = cb.output().split('\n').filter((l) => l.includes('overrides TS_LOGIN_SERVER'));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/^boot: .* \[warning\] TS_EXTRA_ARGS contains --login-server, which overrides TS_LOGIN_SERVER; using the TS_EXTRA_ARGS value$/);
    await cb.stop();
  }, 90_000);

  it('TS_AUTHKEY_FILE=/run/secrets/ts_authkey (trailing newline) logs in; the key is never printed', async () => {
    const pod = await lab.addNode('secret', { lan: true });
    const key = await lab.createKey();
    const cb = lab.startContainerboot(pod, {
      env: { TS_AUTHKEY_FILE: '/run/secrets/ts_authkey', TS_HOSTNAME: 'cb-keyfile' },
      secrets: { ts_authkey: `${key}\n` },
    });
    expect(cb.env.TS_AUTHKEY).toBeUndefined();
    const st = await cb.waitRunning();
    await cb.waitStartupComplete(20_000);
    expect(st.Self.HostName).toBe('cb-keyfile');
    await waitFor('cb-keyfile in headscale', async () => (await lab.headscale.nodes()).some((n) => n.name === 'cb-keyfile' && n.online), 15_000);
    expect(cb.proc.output()).not.toContain(key);
    await cb.stop();
    expect(cb.proc.exitInfo?.code).toBe(0);
  }, 90_000);

  it('TS_AUTHKEY_FILE naming a missing secret: exit 1 naming variable and path, no tailscaled started', async () => {
    const pod = await lab.addNode('nosecret', { lan: true });
    const cb = lab.startContainerboot(pod, { env: { TS_AUTHKEY_FILE: '/run/secrets/missing', TS_HOSTNAME: 'cb-nokey' }, secrets: {} });
    const exit = await cb.proc.waitExit(15_000);
    expect(exit.code).toBe(1);
    expect(cb.output()).toMatch(/^boot: .* invalid configuration: error reading TS_AUTHKEY_FILE: open \/run\/secrets\/missing: no such file or directory$/m);
    expect(cb.pidsOf('tailscaled')).toEqual([]);
  }, 30_000);
});
