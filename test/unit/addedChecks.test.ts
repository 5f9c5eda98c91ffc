// Up-front checks this project adds (issue 12 item 4), TS_LOGIN_SERVER (issue 13 item 2) and the
// all-errors list for `containerboot doctor` (settingsErrors).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { settingsFromEnv, SettingsError } from '../../src/settings/fromEnv.js';
import { settingsErrors } from '../../src/settings/errors.js';
import { advertiseRoutesError, isControlURL } from '../../src/settings/validateAdded.js';
import { setArgs, upArgs } from '../../src/plan/argv.js';
import { extraArgsHaveFlag } from '../../src/plan/cliFlags.js';

function errorOf(env: Record<string, string>): string {
  try { settingsFromEnv(env); } catch (e) { if (e instanceof SettingsError) return e.message; throw e; }
  return '';
}
const kernel = { TS_USERSPACE: 'false' };

describe('TS_DEST_IP and TS_TAILNET_TARGET_IP must be IP addresses', () => {
  it.each(['10.0.0.1', 'fd00::1', '::ffff:10.0.0.1'])('accepts %s', (ip) => {
    expect(errorOf({ ...kernel, TS_DEST_IP: ip })).toBe('');
    expect(errorOf({ ...kernel, TS_TAILNET_TARGET_IP: ip })).toBe('');
  });
  it.each(['notanip', '300.1.2.3', '10.0.0.1/32', ' 10.0.0.1', '010.0.0.1', 'fe80::1%eth0'])('rejects %j naming the variable', (ip) => {
    expect(errorOf({ ...kernel, TS_DEST_IP: ip })).toBe(`invalid configuration: error parsing TS_DEST_IP value ${JSON.stringify(ip)}: ParseAddr(${JSON.stringify(ip)}): unable to parse IP`);
    expect(errorOf({ ...kernel, TS_TAILNET_TARGET_IP: ip })).toBe(`invalid configuration: error parsing TS_TAILNET_TARGET_IP value ${JSON.stringify(ip)}: ParseAddr(${JSON.stringify(ip)}): unable to parse IP`);
  });
  it("upstream's own rule is still reported first (userspace mode)", () => {
    expect(errorOf({ TS_DEST_IP: 'notanip' })).toBe('invalid configuration: TS_DEST_IP is not supported with TS_USERSPACE');
  });
});

describe('TS_ROUTES: what `tailscale up --advertise-routes` v1.102.3 accepts', () => {
  it.each(['', '10.0.0.0/8', '10.0.0.0/8,192.168.1.0/24,fd00::/64', '0.0.0.0/0,::/0', '10.1.2.3/32', 'fd7a:115c:a1e0:b1a:0:7:a01:100/120'])('accepts %j', (r) => {
    expect(advertiseRoutesError(r)).toBeUndefined();
    expect(errorOf({ TS_ROUTES: r })).toBe('');
  });
  it.each([
    ['10.0.0.0/33', '"10.0.0.0/33" is not a valid IP address or CIDR prefix'],
    ['10.0.0.1', '"10.0.0.1" is not a valid IP address or CIDR prefix'],
    ['10.0.0.0/8,', '"" is not a valid IP address or CIDR prefix'],
    ['10.0.0.0/8, 10.1.0.0/16', '" 10.1.0.0/16" is not a valid IP address or CIDR prefix'],
    ['10.0.0.1/8', '10.0.0.1/8 has non-address bits set; expected 10.0.0.0/8'],
    ['fd00::1/64', 'fd00::1/64 has non-address bits set; expected fd00::/64'],
    ['192.168.1.128/24', '192.168.1.128/24 has non-address bits set; expected 192.168.1.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0 advertised without its IPv6 counterpart, please also advertise ::/0'],
    ['::/0', '::/0 advertised without its IPv4 counterpart, please also advertise 0.0.0.0/0'],
    ['fd7a:115c:a1e0:b1a::/64', 'fd7a:115c:a1e0:b1a::/64 4-in-6 prefix must be at least a /96'],
    ['fd7a:115c:a1e0:b1a:1:0:a01:100/120', 'route fd7a:115c:a1e0:b1a:1:0:a01:100/120 contains invalid site ID 00010000; must be 0xffff or less'],
  ])('rejects %j with tailscale up\'s reason', (r, why) => {
    expect(advertiseRoutesError(r)).toBe(why);
    expect(errorOf({ TS_ROUTES: r })).toBe(`invalid configuration: error parsing TS_ROUTES value ${JSON.stringify(r)}: ${why}`);
  });
  it('every canonical IPv4 prefix is accepted; every non-canonical one names the masked form', () => {
    fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, bits) => {
      const e = advertiseRoutesError(`${ip}/${bits}`);
      const n = ip.split('.').reduce((a, o) => (a << 8n) | BigInt(o), 0n);
      const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(32 - bits);
      const m = n & mask;
      const mText = [24n, 16n, 8n, 0n].map((sh) => String((m >> sh) & 255n)).join('.');
      if (bits === 0 && m === n) return e === '0.0.0.0/0 advertised without its IPv6 counterpart, please also advertise ::/0';
      return m === n ? e === undefined : e === `${ip}/${bits} has non-address bits set; expected ${mText}/${bits}`;
    }), { numRuns: 300, seed: 13 });
  });
});

describe('TS_LOGIN_SERVER', () => {
  it.each(['http://10.231.7.1:8080', 'https://headscale.example.com', 'https://hs.example.com/', 'HTTPS://hs.example.com/prefix', 'http://[fd00::1]:8080'])('accepts %s', (u) => {
    expect(isControlURL(u)).toBe(true);
    expect(errorOf({ TS_LOGIN_SERVER: u })).toBe('');
  });
  it.each(['headscale.example.com', 'ftp://hs.example.com', 'http://', 'http:///x', ' https://hs.example.com', 'https://hs.example.com ', 'http:hs.example.com', 'https://a b'])('rejects %j', (u) => {
    expect(errorOf({ TS_LOGIN_SERVER: u })).toBe(`invalid configuration: error parsing TS_LOGIN_SERVER value ${JSON.stringify(u)}: expected an absolute http:// or https:// URL such as https://headscale.example.com`);
  });
  it('goes into `tailscale up` after upstream\'s flags, before TS_EXTRA_ARGS; not into `tailscale set`', () => {
    const s = settingsFromEnv({ TS_AUTHKEY: 'k', TS_HOSTNAME: 'h', TS_LOGIN_SERVER: 'http://hs:8080', TS_EXTRA_ARGS: '--accept-routes' }).settings;
    expect(upArgs(s)).toEqual(['--socket=/tmp/tailscaled.sock', 'up', '--accept-dns=false', '--authkey=k', '--hostname=h', '--login-server=http://hs:8080', '--accept-routes']);
    expect(setArgs(s).join(' ')).not.toContain('login-server');
  });
  it('unset: `tailscale up` argv is exactly upstream\'s', () => {
    const s = settingsFromEnv({ TS_AUTHKEY: 'k', TS_HOSTNAME: 'h', TS_EXTRA_ARGS: '--login-server=http://x:1' }).settings;
    expect(upArgs(s)).toEqual(['--socket=/tmp/tailscaled.sock', 'up', '--accept-dns=false', '--authkey=k', '--hostname=h', '--login-server=http://x:1']);
  });
  it.each(['--login-server=http://other:1', '--login-server http://other:1', '-login-server=http://other:1'])('TS_EXTRA_ARGS %j wins, with one warning', (extra) => {
    const r = settingsFromEnv({ TS_LOGIN_SERVER: 'http://hs:8080', TS_EXTRA_ARGS: extra });
    const up = upArgs(r.settings);
    expect(up.filter((a) => a.includes('login-server')).length).toBe(1);
    expect(up.join(' ')).toContain('http://other:1');
    expect(up.join(' ')).not.toContain('http://hs:8080');
    expect(r.logs.filter((l) => l.includes('--login-server'))).toEqual(['[warning] TS_EXTRA_ARGS contains --login-server, which overrides TS_LOGIN_SERVER; using the TS_EXTRA_ARGS value']);
  });
  it('a positional "--login-server" after the flags is not a flag', () => {
    expect(extraArgsHaveFlag('--accept-routes -- --login-server=x', 'login-server')).toBe(false);
    expect(extraArgsHaveFlag('--hostname --login-server', 'login-server')).toBe(false);
    expect(extraArgsHaveFlag('--login-servers=x', 'login-server')).toBe(false);
  });
  it('one-step mode: a configuration error (the config file\'s ServerURL is the control server)', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'cb-cfg-'));
    writeFileSync(path.join(d, 'cap-100.hujson'), '{"Version":"alpha0","ServerURL":"http://hs:8080"}');
    expect(errorOf({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: d, TS_LOGIN_SERVER: 'http://hs:8080' }))
      .toBe('invalid configuration: TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR cannot be set in combination with TS_LOGIN_SERVER: in one-step mode the control server is the ServerURL of the tailscaled config file');
  });
});

describe('settingsErrors: every error at once, as boot would print each', () => {
  it('[] for a valid configuration', () => {
    expect(settingsErrors({})).toEqual([]);
    expect(settingsErrors({ TS_AUTHKEY: 'k', TS_ROUTES: '10.0.0.0/8', TS_LOGIN_SERVER: 'https://hs.example.com' })).toEqual([]);
  });
  it('lists all, in boot order, the first being exactly what boot reports', () => {
    const env = {
      TS_DEST_IP: 'notanip', TS_ID_TOKEN: 'secret-token-value', TS_ROUTES: '10.0.0.0/33', TS_LOGIN_SERVER: 'nope',
      TS_AUTHKEY_FILE: '/nonexistent/ts_authkey', POD_IPS: 'x', TS_DEBUG_ADDR_PORT: 'bad', TS_BOOT_TIMEOUT: '90',
    };
    const all = settingsErrors(env);
    expect(all).toEqual([
      'invalid configuration: error reading TS_AUTHKEY_FILE: open /nonexistent/ts_authkey: no such file or directory',
      'invalid configuration: POD_IPS: error parsing IP address x: ParseAddr("x"): unable to parse IP', // R1
      'invalid configuration: TS_DEST_IP is not supported with TS_USERSPACE',
      'invalid configuration: TS_ID_TOKEN is set but TS_CLIENT_ID is not set',
      'invalid configuration: error parsing TS_DEBUG_ADDR_PORT value "bad": invalid ip:port "bad", no colon',
      'invalid configuration: error parsing TS_BOOT_TIMEOUT value "90": time: missing unit in duration "90"',
      'invalid configuration: error parsing TS_DEST_IP value "notanip": ParseAddr("notanip"): unable to parse IP',
      'invalid configuration: error parsing TS_ROUTES value "10.0.0.0/33": "10.0.0.0/33" is not a valid IP address or CIDR prefix',
      'invalid configuration: error parsing TS_LOGIN_SERVER value "nope": expected an absolute http:// or https:// URL such as https://headscale.example.com',
    ]);
    expect(errorOf(env)).toBe(all[0]);
    expect(all.join('\n')).not.toContain('secret-token-value');
  });
  it('the first entry equals boot\'s error for each single upstream rule too', () => {
    const envs: Record<string, string>[] = [{ TS_ID_TOKEN: 't' }, { TS_USERSPACE: 'false', TS_TAILNET_TARGET_IP: '300.1.2.3' }, { TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: '/nonexistent/cb' }];
    for (const env of envs) {
      expect(settingsErrors(env)[0]).toBe(errorOf(env));
    }
  });
  it('keeps the versioned-config-dir selection error without the prefix, as boot prints it', () => {
    expect(settingsErrors({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: '/nonexistent/cb' })[0]).toMatch(/^TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: error reading tailscaled config directory "\/nonexistent\/cb": /);
  });
  it('never throws and never prints a stack for arbitrary TS_* values', () => {
    const names = ['TS_DEST_IP', 'TS_TAILNET_TARGET_IP', 'TS_ROUTES', 'TS_LOGIN_SERVER', 'TS_AUTHKEY_FILE', 'TS_CLIENT_SECRET_FILE', 'TS_ID_TOKEN_FILE', 'TS_EXTRA_ARGS', 'POD_IPS', 'TS_BOOT_TIMEOUT'];
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...names), fc.string({ unit: 'grapheme', maxLength: 40 })), (env) => {
      const errs = settingsErrors(env);
      return errs.every((e) => !e.includes('\n    at '));
    }), { numRuns: 300, seed: 12 });
  });
});
