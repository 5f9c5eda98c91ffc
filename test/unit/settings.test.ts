// Unit tests of the env → settings planner, incl. every upstream unit-test-pinned case (spec §9.2).
import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsFromEnv, SettingsError } from '../../src/settings/fromEnv.js';
import { extractAcceptDNS } from '../../src/settings/acceptDns.js';
import { parseGoDuration, formatGoDuration, lenientBool, triStateBool } from '../../src/settings/parse.js';
import { validateSettings } from '../../src/settings/validate.js';
import { selectConfigFile, capVersionOfFileName, readAuthKeyFromConfigFile } from '../../src/settings/configDir.js';
import { standardizeHuJSON } from '../../src/settings/hujson.js';

function errorOf(env: Record<string, string>): string {
  try { settingsFromEnv(env); } catch (e) { if (e instanceof SettingsError) return e.message; throw e; }
  return '';
}

describe('parsing primitives', () => {
  it('lenient bool accepts exactly Go ParseBool spellings', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(lenientBool(t, false)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(lenientBool(f, true)).toBe(false);
    for (const x of ['yes', 'on', 'tRUE', ' true']) { expect(lenientBool(x, true)).toBe(true); expect(lenientBool(x, false)).toBe(false); }
    expect(lenientBool('', true)).toBe(true);
    expect(lenientBool(undefined, false)).toBe(false);
  });
  it('tri-state bool', () => {
    expect(triStateBool(undefined)).toBeUndefined();
    expect(triStateBool('')).toBeUndefined();
    expect(triStateBool('junk')).toBeUndefined();
    expect(triStateBool('false')).toBe(false);
  });
  it('Go durations', () => {
    expect(parseGoDuration('90s')).toBe(90_000);
    expect(parseGoDuration('3m')).toBe(180_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('1ms')).toBe(1);
    expect(() => parseGoDuration('90')).toThrow('time: missing unit in duration "90"');
    expect(() => parseGoDuration('abc')).toThrow('time: invalid duration "abc"');
    expect(formatGoDuration(600_000)).toBe('10m0s');
    expect(formatGoDuration(1000)).toBe('1s');
    expect(formatGoDuration(150_000)).toBe('2m30s');
  });
});

describe('Test_parseAcceptDNS (upstream table)', () => {
  const cases: [string, boolean, string, boolean][] = [
    ['', false, '', false],
    ['--accept-routes=true --advertise-routes=10.0.0.1/32', false, '--accept-routes=true --advertise-routes=10.0.0.1/32', false],
    ['', true, '', true],
    ['--accept-routes=true --advertise-routes=10.0.0.1/32', true, '--accept-routes=true --advertise-routes=10.0.0.1/32', true],
    ['--accept-dns=false', false, '', false],
    ['--accept-dns=true', false, '', true],
    ['--accept-dns=false', true, '', false],
    ['--accept-dns=true', true, '', true],
    ['--accept-dns', false, '', true],
    ['--accept-dns --accept-routes --advertise-routes=10.0.0.1/32', false, '--accept-routes --advertise-routes=10.0.0.1/32', true],
    ['--accept-routes --accept-dns --advertise-routes=10.0.0.1/32', false, '--accept-routes --advertise-routes=10.0.0.1/32', true],
    ['--accept-routes --accept-dns=false', true, '--accept-routes', false],
  ];
  it.each(cases)('%j with %s', (args, dns, wantArgs, wantDNS) => {
    const r = extractAcceptDNS(args, dns);
    expect(r.extraArgs).toBe(wantArgs);
    expect(r.acceptDNS).toBe(wantDNS);
  });
  it('leaves AcceptDNS unset when the token equals the default false', () => {
    expect(extractAcceptDNS('--accept-dns=false', undefined).acceptDNS).toBeUndefined();
  });
  it('ignores malformed and non-boolean values with upstream messages', () => {
    expect(extractAcceptDNS('--accept-dns=a=b', undefined).logs[0]).toContain('not in the expected format');
    const r = extractAcceptDNS('--accept-dns=maybe', true);
    expect(r.logs[0]).toBe('TS_EXTRA_ARGS contains --accept-dns="maybe", which is not a valid boolean value, ignoring it');
    expect(r.extraArgs).toBe('--accept-dns=maybe');
  });
});

describe('TestValidateAuthMethods (upstream table)', () => {
  const valid: Record<string, string>[] = [{}, { TS_AUTHKEY: 'k' }, { TS_CLIENT_SECRET: 's' }, { TS_CLIENT_ID: 'i' },
    { TS_CLIENT_ID: 'i', TS_CLIENT_SECRET: 's' }, { TS_CLIENT_ID: 'i', TS_ID_TOKEN: 't' }, { TS_CLIENT_ID: 'i', TS_AUDIENCE: 'a' }];
  it.each(valid)('valid %j', (env) => expect(errorOf(env)).toBe(''));
  const invalid: [Record<string, string>, string][] = [
    [{ TS_ID_TOKEN: 't' }, 'TS_ID_TOKEN is set but TS_CLIENT_ID is not set'],
    [{ TS_AUDIENCE: 'a' }, 'TS_AUDIENCE is set but TS_CLIENT_ID is not set'],
    [{ TS_AUTHKEY: 'k', TS_CLIENT_SECRET: 's' }, 'TS_AUTHKEY cannot be used with'],
    [{ TS_AUTHKEY: 'k', TS_CLIENT_ID: 'i', TS_ID_TOKEN: 't' }, 'TS_AUTHKEY cannot be used with'],
    [{ TS_AUTHKEY: 'k', TS_CLIENT_ID: 'i', TS_AUDIENCE: 'a' }, 'TS_AUTHKEY cannot be used with'],
    [{ TS_CLIENT_ID: 'i', TS_CLIENT_SECRET: 's', TS_ID_TOKEN: 't' }, 'TS_ID_TOKEN and TS_CLIENT_SECRET cannot both be set'],
    [{ TS_CLIENT_ID: 'i', TS_ID_TOKEN: 't', TS_AUDIENCE: 'a' }, 'TS_ID_TOKEN and TS_AUDIENCE cannot both be set'],
    [{ TS_CLIENT_ID: 'i', TS_CLIENT_SECRET: 's', TS_AUDIENCE: 'a' }, 'TS_AUDIENCE and TS_CLIENT_SECRET cannot both be set'],
  ];
  it.each(invalid)('invalid %j', (env, msg) => {
    const e = errorOf(env);
    expect(e).toContain(msg);
    expect(e.startsWith('invalid configuration: ')).toBe(true);
    expect(e).not.toContain('invalid configuration: invalid configuration:');
  });
});

describe('defaults and env semantics', () => {
  it('empty values mean defaults (TestConfigFromEnvEmptyDefaults)', () => {
    const { settings } = settingsFromEnv({ TS_SOCKET: '', TS_LOCAL_ADDR_PORT: '', TS_TEST_ONLY_ROOT: '' });
    expect(settings.socket).toBe('/tmp/tailscaled.sock');
    expect(settings.localAddrPort).toBe('[::]:9002');
    expect(settings.root).toBe('/');
  });
  it('TS_KUBE_SECRET (TestConfigFromEnvKubeSecret)', () => {
    expect(settingsFromEnv({ KUBERNETES_SERVICE_HOST: 'h' }).settings.kubeSecret).toBe('tailscale');
    expect(settingsFromEnv({ KUBERNETES_SERVICE_HOST: 'h', TS_KUBE_SECRET: '' }).settings.kubeSecret).toBe('');
    expect(settingsFromEnv({ KUBERNETES_SERVICE_HOST: 'h', TS_KUBE_SECRET: 'custom' }).settings.kubeSecret).toBe('custom');
    expect(settingsFromEnv({}).settings.kubeSecret).toBe('');
  });
  it('brackets an unbracketed pod IPv6 in TS_LOCAL_ADDR_PORT (TestHandlesKubeIPV6)', () => {
    const { settings } = settingsFromEnv({ TS_LOCAL_ADDR_PORT: 'fd7a:115c:a1e0::6c34:352:9002', POD_IPS: 'fd7a:115c:a1e0::6c34:352', TS_ENABLE_METRICS: 'true' });
    expect(settings.localAddrPort).toBe('[fd7a:115c:a1e0::6c34:352]:9002');
    expect(settings.podIPv6).toBe('fd7a:115c:a1e0::6c34:352');
  });
  it('TS_BOOT_TIMEOUT (TestBootCtxTimeout)', () => {
    expect(settingsFromEnv({}).settings.bootTimeoutMs).toBe(60_000);
    expect(settingsFromEnv({ TS_BOOT_TIMEOUT: '' }).settings.bootTimeoutMs).toBe(60_000);
    expect(settingsFromEnv({ TS_BOOT_TIMEOUT: '3m' }).settings.bootTimeoutMs).toBe(180_000);
    expect(errorOf({ TS_BOOT_TIMEOUT: '90' })).toBe('invalid configuration: error parsing TS_BOOT_TIMEOUT value "90": time: missing unit in duration "90"');
  });
  it('auth key alias: first non-empty of TS_AUTHKEY, TS_AUTH_KEY', () => {
    expect(settingsFromEnv({ TS_AUTHKEY: '', TS_AUTH_KEY: 'b' }).settings.authKey).toBe('b');
    expect(settingsFromEnv({ TS_AUTHKEY: 'a', TS_AUTH_KEY: 'b' }).settings.authKey).toBe('a');
  });
  it('TS_ROUTES distinguishes unset from empty', () => {
    expect(settingsFromEnv({}).settings.routes).toBeUndefined();
    expect(settingsFromEnv({ TS_ROUTES: '' }).settings.routes).toBe('');
  });
  it('POD_IPS parsing and errors', () => {
    const { settings } = settingsFromEnv({ POD_IPS: '10.0.0.1,fd00::1' });
    expect([settings.podIPv4, settings.podIPv6]).toEqual(['10.0.0.1', 'fd00::1']);
    expect(errorOf({ POD_IPS: '1.1.1.1,2.2.2.2,3.3.3.3' })).toBe('invalid configuration: POD_IPs can contain at most 2 IPs, got 3 ([1.1.1.1 2.2.2.2 3.3.3.3])');
    expect(errorOf({ POD_IPS: '' })).toBe('invalid configuration: POD_IPS: error parsing IP address : ParseAddr(""): unable to parse IP');
  });
  it('cert share mode from POD_NAME', () => {
    expect(settingsFromEnv({ TS_EXPERIMENTAL_CERT_SHARE: 'true', POD_NAME: 'pg-0' }).settings.certShareMode).toBe('rw');
    expect(settingsFromEnv({ TS_EXPERIMENTAL_CERT_SHARE: 'true', POD_NAME: 'pg-1' }).settings.certShareMode).toBe('ro');
    expect(settingsFromEnv({ POD_NAME: 'pg-0' }).settings.certShareMode).toBe('');
  });
});

describe('validation rules in order', () => {
  const cases: [Record<string, string>, string][] = [
    [{ TS_DEST_IP: '1.2.3.4' }, 'TS_DEST_IP is not supported with TS_USERSPACE'],
    [{ TS_EXPERIMENTAL_DEST_DNS_NAME: 'x' }, 'TS_EXPERIMENTAL_DEST_DNS_NAME is not supported with TS_USERSPACE'],
    [{ TS_USERSPACE: 'false', TS_EXPERIMENTAL_DEST_DNS_NAME: 'x', TS_DEST_IP: '1.2.3.4' }, 'TS_EXPERIMENTAL_DEST_DNS_NAME and TS_DEST_IP cannot both be set'],
    [{ TS_TAILNET_TARGET_IP: '1.2.3.4' }, 'TS_TAILNET_TARGET_IP is not supported with TS_USERSPACE'],
    [{ TS_TAILNET_TARGET_FQDN: 'a.b' }, 'TS_TAILNET_TARGET_FQDN is not supported with TS_USERSPACE'],
    [{ TS_USERSPACE: 'false', TS_TAILNET_TARGET_FQDN: 'a.b', TS_TAILNET_TARGET_IP: '1.2.3.4' }, 'Both TS_TAILNET_TARGET_IP and TS_TAILNET_FQDN cannot be set'],
    [{ EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS: 'true' }, 'EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS is not supported in userspace mode'],
    [{ TS_USERSPACE: 'false', EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS: 'true' }, 'EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS is set but this is not a cluster ingress proxy'],
    [{ TS_USERSPACE: 'false', EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS: 'true', TS_SERVE_CONFIG: '/x' }, 'EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS is set but POD_IP is not set'],
    [{ TS_EXPERIMENTAL_ENABLE_FORWARDING_OPTIMIZATIONS: 'true' }, 'TS_EXPERIMENTAL_ENABLE_FORWARDING_OPTIMIZATIONS is not supported in userspace mode'],
    [{ TS_HEALTHCHECK_ADDR_PORT: 'nonsense' }, 'error parsing TS_HEALTHCHECK_ADDR_PORT value "nonsense"'],
    [{ TS_ENABLE_METRICS: 'true', TS_LOCAL_ADDR_PORT: 'bad' }, 'error parsing TS_LOCAL_ADDR_PORT value "bad"'],
    [{ TS_DEBUG_ADDR_PORT: 'bad' }, 'error parsing TS_DEBUG_ADDR_PORT value "bad"'],
    [{ TS_ENABLE_HEALTH_CHECK: 'true', TS_HEALTHCHECK_ADDR_PORT: '127.0.0.1:1' }, 'TS_HEALTHCHECK_ADDR_PORT is deprecated and will be removed in 1.82.0, use TS_ENABLE_HEALTH_CHECK and optionally TS_LOCAL_ADDR_PORT'],
    [{ TS_EGRESS_PROXIES_CONFIG_PATH: '/x' }, 'TS_EGRESS_PROXIES_CONFIG_PATH is only supported for Tailscale running on Kubernetes'],
    [{ TS_INGRESS_PROXIES_CONFIG_PATH: '/x' }, 'TS_INGRESS_PROXIES_CONFIG_PATH is only supported for Tailscale running on Kubernetes'],
  ];
  it.each(cases)('%j', (env, msg) => expect(errorOf(env)).toContain(`invalid configuration: ${msg}`));
  it('logs the TS_HEALTHCHECK_ADDR_PORT deprecation whenever it is set', () => {
    const r = settingsFromEnv({ TS_HEALTHCHECK_ADDR_PORT: '127.0.0.1:8080' });
    expect(r.logs[0]).toContain('[warning] TS_HEALTHCHECK_ADDR_PORT is deprecated');
  });
  it('first failing rule wins', () => {
    expect(errorOf({ TS_DEST_IP: '1.2.3.4', TS_ID_TOKEN: 'x' })).toBe('invalid configuration: TS_DEST_IP is not supported with TS_USERSPACE');
  });
  it('validateSettings passes a plain config', () => {
    expect(validateSettings(settingsFromEnv({}).settings).error).toBeUndefined();
  });
});

describe('versioned config dir (one-step mode)', () => {
  function dir(files: Record<string, string>): string {
    const d = mkdtempSync(path.join(tmpdir(), 'cb-cfg-'));
    for (const [n, c] of Object.entries(files)) writeFileSync(path.join(d, n), c);
    return d;
  }
  const good = '{ // comment\n "Version": "alpha0", "AuthKey": "tskey-cfg",\n}';
  it('parses cap file names like Go Sscanf', () => {
    expect(capVersionOfFileName('cap-95.hujson')).toBe(95);
    expect(capVersionOfFileName('cap-007.hujson.bak')).toBe(7);
    expect(capVersionOfFileName('tailscaled')).toBe(0);
    expect(capVersionOfFileName('..data')).toBeUndefined();
  });
  it('selects the highest version not above ours and logs it', () => {
    const d = dir({ 'cap-95.hujson': good, 'cap-100.hujson': good, 'cap-999.hujson': good, 'serve-config.json': '{}' });
    mkdirSync(path.join(d, 'cap-130.hujson'));
    const sel = selectConfigFile(d, 142);
    expect(sel.path).toBe(path.join(d, 'cap-100.hujson'));
    expect(sel.logs[0]).toBe(`Using tailscaled config file "${path.join(d, 'cap-100.hujson')}" to match current capability version 142`);
  });
  it('considers symlinks (kubelet mounts) and selects a bare `tailscaled` file itself', () => {
    const d = dir({ 'real': good });
    symlinkSync(path.join(d, 'real'), path.join(d, 'tailscaled'));
    expect(selectConfigFile(d).path).toBe(path.join(d, 'tailscaled'));
  });
  it('fails without a usable file, exiting with upstream text (no invalid configuration prefix)', () => {
    const d = dir({ 'cap-999.hujson': good });
    expect(errorOf({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: d })).toBe(`TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: no tailscaled config file found in "${d}" for current capability version 142`);
    expect(errorOf({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: '/nonexistent/cb' })).toMatch(/^TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: error reading tailscaled config directory "\/nonexistent\/cb": /);
  });
  it('validates contents and conflicting variables', () => {
    const bad = dir({ 'cap-100.hujson': '{"Version":"alpha0","Bogus":1}' });
    expect(errorOf({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: bad })).toBe(`invalid configuration: error validating tailscaled configfile contents: error parsing config file ${path.join(bad, 'cap-100.hujson')}: json: unknown field "Bogus"`);
    const ok = dir({ 'cap-100.hujson': good });
    expect(errorOf({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: ok })).toBe('');
    expect(errorOf({ TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: ok, TS_ROUTES: '' })).toContain('TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR cannot be set in combination with');
    expect(readAuthKeyFromConfigFile(path.join(ok, 'cap-100.hujson'))).toBe('tskey-cfg');
    expect(readAuthKeyFromConfigFile(path.join(ok, 'missing'))).toBe('');
  });
  it('HuJSON: comments and trailing commas, strings untouched', () => {
    expect(JSON.parse(standardizeHuJSON('{"a": "x//y", /* c */ "b": [1,2,],}'))).toEqual({ a: 'x//y', b: [1, 2] });
  });
});
