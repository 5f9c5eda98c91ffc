// Pure planners: argv construction, flag routing, netmap model, IPN bus framing, netip.
import { describe, expect, it } from 'vitest';
import { settingsFromEnv } from '../../src/settings/fromEnv.js';
import { setArgs, setOnlyFlagsArgs, tailscaledArgs, tailscaledEnv, upArgs } from '../../src/plan/argv.js';
import { routeExtraArgs } from '../../src/plan/cliFlags.js';
import { applyNotify, applyDNSConfig } from '../../src/netmap/update.js';
import { emptyNetmap, allPeers, hasValidSelf } from '../../src/netmap/types.js';
import { LineSplitter } from '../../src/localapi/ipnbus.js';
import { parseJSONLossless } from '../../src/localapi/json.js';
import { effectiveState, triggersNetmapProcessing, hasLoginStateWarning } from '../../src/localapi/notify.js';
import { parseAddr, parsePrefix, prefixContains, parseAddrPort, joinHostPort } from '../../src/util/netip.js';
import { errorFromResponse } from '../../src/localapi/client.js';

const S = (env: Record<string, string>) => settingsFromEnv(env).settings;

describe('tailscaled argv (spec §2.2)', () => {
  it.each([
    [{}, '--socket=/tmp/tailscaled.sock --state=mem: --statedir=/tmp --tun=userspace-networking'],
    [{ KUBERNETES_SERVICE_HOST: 'h' }, '--socket=/tmp/tailscaled.sock --state=kube:tailscale --statedir=/tmp --tun=userspace-networking'],
    [{ TS_KUBE_SECRET: 'sec', TS_STATE_DIR: '/s' }, '--socket=/tmp/tailscaled.sock --state=kube:sec --statedir=/s --tun=userspace-networking'],
    [{ TS_STATE_DIR: '/s', TS_USERSPACE: 'false' }, '--socket=/tmp/tailscaled.sock --statedir=/s'],
    [{ TS_SOCKS5_SERVER: 'localhost:1080', TS_OUTBOUND_HTTP_PROXY_LISTEN: 'localhost:8080' }, '--socket=/tmp/tailscaled.sock --state=mem: --statedir=/tmp --tun=userspace-networking --socks5-server=localhost:1080 --outbound-http-proxy-listen=localhost:8080'],
    [{ TS_DEBUG_ADDR_PORT: '127.0.0.1:9001', TS_TAILSCALED_EXTRA_ARGS: ' -verbose=2   --port=1 ' }, '--socket=/tmp/tailscaled.sock --state=mem: --statedir=/tmp --tun=userspace-networking --debug=127.0.0.1:9001 -verbose=2 --port=1'],
    [{ TS_DEBUG_ADDR_PORT: '127.0.0.1:9001', TS_TAILSCALED_EXTRA_ARGS: '--debug=127.0.0.1:9001' }, '--socket=/tmp/tailscaled.sock --state=mem: --statedir=/tmp --tun=userspace-networking --debug=127.0.0.1:9001'],
  ])('%j', (env, want) => expect(tailscaledArgs(S(env as Record<string, string>)).join(' ')).toBe(want));
});

describe('tailscaled env additions (K1)', () => {
  it.each([
    [{ KUBERNETES_SERVICE_HOST: 'fd00::1' }, { KUBERNETES_SERVICE_HOST: '[fd00::1]' }],
    [{ KUBERNETES_SERVICE_HOST: '[fd00::1]' }, {}],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, {}],
    [{ KUBERNETES_SERVICE_HOST: 'fd00::1', TS_KUBE_SECRET: '' }, {}], // no kubestore: env untouched
    [{ TS_EXPERIMENTAL_CERT_SHARE: 'true', POD_NAME: 'pg-1', KUBERNETES_SERVICE_HOST: '::1' }, { TS_CERT_SHARE_MODE: 'ro', KUBERNETES_SERVICE_HOST: '[::1]' }],
  ])('%j', (env, want) => expect(tailscaledEnv(S(env as Record<string, string>))).toEqual(want));
});

describe('tailscale up/set argv (spec §2.3–§2.4)', () => {
  it('up with every field in upstream order', () => {
    const s = S({ TS_CLIENT_ID: 'id', TS_CLIENT_SECRET: 'sec', TS_ROUTES: '', TS_HOSTNAME: 'h', TS_ACCEPT_DNS: 'true', TS_EXTRA_ARGS: '--accept-routes' });
    expect(upArgs(s)).toEqual(['--socket=/tmp/tailscaled.sock', 'up', '--accept-dns=true', '--client-id=id', '--client-secret=sec', '--advertise-routes=', '--hostname=h', '--accept-routes']);
  });
  it('set carries no auth material and no up-only extra args', () => {
    const s = S({ TS_AUTHKEY: 'k', TS_ROUTES: '10.0.0.0/8', TS_EXTRA_ARGS: '--advertise-tags=tag:a --auto-update' });
    expect(setArgs(s)).toEqual(['--socket=/tmp/tailscaled.sock', 'set', '--accept-dns=false', '--advertise-routes=10.0.0.0/8', '--auto-update']);
    expect(setOnlyFlagsArgs(s)).toEqual(['--socket=/tmp/tailscaled.sock', 'set', '--auto-update']);
    expect(setOnlyFlagsArgs(S({ TS_EXTRA_ARGS: '--advertise-tags=tag:a' }))).toBeUndefined();
  });
});

describe('TS_EXTRA_ARGS routing', () => {
  it.each([
    ['--relay-server-port=40000', [], ['--relay-server-port=40000']],
    ['--relay-server-port 40000 --ssh', ['--ssh'], ['--relay-server-port', '40000']],
    ['-webclient=true --hostname foo --nickname bar', ['--hostname', 'foo'], ['-webclient=true', '--nickname', 'bar']],
    ['--login-server http://x --auto-update --update-check=false', ['--login-server', 'http://x'], ['--auto-update', '--update-check=false']],
    ['--relay-server-static-endpoints=[2001:db8::1]:40000,192.0.2.1:40000', [], ['--relay-server-static-endpoints=[2001:db8::1]:40000,192.0.2.1:40000']],
    ['--unknown-flag=1 --sync', ['--unknown-flag=1'], ['--sync']],
    ['--ssh positional --webclient', ['--ssh', 'positional', '--webclient'], []],
  ])('%j', (args, up, set) => expect(routeExtraArgs(args)).toEqual({ up, set }));
});

describe('netmap model (spec §3.4)', () => {
  it('builds self and peers from InitialStatus, keeps int64 IDs exact', () => {
    const raw = '{"InitialStatus":{"BackendState":"Running","CertDomains":["a.ts.net"],"Self":{"ID":"nS","NodeID":9007199254740993,"DNSName":"self.ts.net.","PublicKey":"nodekey:1","TailscaleIPs":["100.64.0.1","fd7a::1"]},"Peer":{"nodekey:2":{"ID":"nP","NodeID":12345678901234567890,"DNSName":"p.ts.net.","TailscaleIPs":["100.64.0.2"],"AllowedIPs":["100.64.0.2/32","10.0.0.0/24"]},"nodekey:3":{"ID":"","NodeID":0,"DNSName":"noid.ts.net.","TailscaleIPs":[]}}}}';
    const s = emptyNetmap();
    applyNotify(s, parseJSONLossless(raw) as never);
    expect(s.self?.id).toBe('9007199254740993');
    expect(s.self?.addresses).toEqual(['100.64.0.1/32', 'fd7a::1/128']);
    expect(s.peersByID.get('12345678901234567890')?.allowedIPs).toEqual(['100.64.0.2/32', '10.0.0.0/24']);
    expect(s.peersByName.has('noid.ts.net.')).toBe(true);
    expect(s.certDomains).toEqual(['a.ts.net']);
    expect(hasValidSelf(s)).toBe(true);
    // An InitialStatus with zero peers keeps the known peers; PeersRemoved drops by ID only.
    applyNotify(s, { InitialStatus: { BackendState: 'Running', Peer: null } });
    expect(allPeers(s).length).toBe(2);
    applyNotify(s, { PeersRemoved: ['12345678901234567890'] });
    expect(s.peersByID.size).toBe(0);
    expect(s.peersByName.size).toBe(1);
  });
  it('SelfChange replaces self; PeersChanged upserts and moves name-keyed peers to ID keys', () => {
    const s = emptyNetmap();
    applyNotify(s, { PeersChanged: [{ ID: 0, Name: 'x.ts.net.', Addresses: ['100.64.0.9/32'] }] });
    applyNotify(s, { SelfChange: { ID: 1, StableID: 's1', Name: 'me.ts.net.', Addresses: ['100.64.0.1/32'] }, PeersChanged: [{ ID: 7, StableID: 'p7', Name: 'x.ts.net.', Addresses: ['100.64.0.7/32'] }] });
    expect(s.self?.name).toBe('me.ts.net.');
    expect(s.peersByName.size).toBe(0);
    expect(s.peersByID.get('7')?.addresses).toEqual(['100.64.0.7/32']);
  });
  it('dns-config refresh replaces records and cert domains (TestProcessNotifyRefreshesDNSOnSelfChange)', () => {
    const s = emptyNetmap();
    applyNotify(s, { SelfChange: { ID: 1, Name: 'self.tailnet.ts.net.' } });
    applyDNSConfig(s, { ExtraRecords: [{ Name: 'my-ingress.tailnet.ts.net.', Type: 'A', Value: '100.99.10.20' }], CertDomains: ['node.tailnet.ts.net'] });
    expect(s.extraRecords).toEqual([{ Name: 'my-ingress.tailnet.ts.net.', Type: 'A', Value: '100.99.10.20' }]);
    expect(s.certDomains).toEqual(['node.tailnet.ts.net']);
    applyDNSConfig(s, null);
    expect(s.certDomains).toEqual(['node.tailnet.ts.net']);
  });
});

describe('IPN bus framing and state', () => {
  it('splits NDJSON across arbitrary chunk boundaries', () => {
    const sp = new LineSplitter();
    const msgs = ['{"State":2}', '{"State":6,"Version":"x"}', '{"PeersRemoved":[3]}'];
    const wire = msgs.map((m) => `${m}\n`).join('');
    const out: string[] = [];
    for (let i = 0; i < wire.length; i += 5) out.push(...sp.push(wire.slice(i, i + 5)));
    expect(out).toEqual(msgs);
  });
  it('effective state from State or InitialStatus.BackendState', () => {
    expect(effectiveState({ State: 6 })).toBe('Running');
    expect(effectiveState({ State: null, InitialStatus: { BackendState: 'NeedsLogin' } })).toBe('NeedsLogin');
    expect(effectiveState({ InitialStatus: { BackendState: 'Bogus' } })).toBeUndefined();
    expect(effectiveState({})).toBeUndefined();
    expect(triggersNetmapProcessing({ PeersRemoved: [] })).toBe(false);
    expect(triggersNetmapProcessing({ PeerChangedPatch: [{}] })).toBe(true);
    expect(hasLoginStateWarning({ Health: { Warnings: { 'login-state': {} } } })).toBe(true);
  });
  it('maps LocalAPI error bodies like the Go client', () => {
    const r = (status: number, body: string) => errorFromResponse({ status, statusText: 'X', headers: {}, body });
    expect(r(400, '{"Error":"bad prefs"}').message).toBe('bad prefs');
    expect(r(500, '{"error":"updating config: netMap is nil"}').message).toBe('updating config: netMap is nil');
    expect(r(412, 'etag mismatch\n').message).toBe('412 X: etag mismatch');
    expect(r(403, 'nope').message).toBe('Access denied: 403 X: nope');
  });
});

describe('netip', () => {
  it('canonical text like Go', () => {
    expect(parseAddr('FD7A:115C:A1E0:0:0:0:0:1').text).toBe('fd7a:115c:a1e0::1');
    expect(parseAddr('2001:db8:0:0:1:0:0:1').text).toBe('2001:db8::1:0:0:1');
    expect(parseAddr('::ffff:1.2.3.4').text).toBe('::ffff:1.2.3.4');
    expect(() => parseAddr('1.2.3')).toThrow();
    expect(() => parseAddr('example.com')).toThrow();
  });
  it('IPv6 parses are remembered: the same literal again gives the same result, also past the memo bound', () => {
    const first = parseAddr('FD7A:115C:A1E0:0:0:0:0:2');
    expect(parseAddr('FD7A:115C:A1E0:0:0:0:0:2')).toBe(first);
    expect(parseAddr('fd7a:115c:a1e0::2')).toEqual(first);
    for (let i = 1; i <= 5000; i++) expect(parseAddr(`fd00::${i.toString(16)}`).text).toBe(`fd00::${i.toString(16)}`);
    expect(parseAddr('FD7A:115C:A1E0:0:0:0:0:2').text).toBe('fd7a:115c:a1e0::2');
    expect(() => parseAddr('fd00::1%eth0')).toThrow();
    expect(() => parseAddr('fd00::1%eth0')).toThrow();
  });
  it('IPv4: bytes and text of every octet value, rejects what Go rejects, remembered like IPv6', () => {
    for (let v = 0; v < 256; v++) {
      const a = parseAddr(`${v}.${255 - v}.${v % 10}.${(v * 7) % 256}`);
      expect([a.family, ...a.bytes]).toEqual([4, v, 255 - v, v % 10, (v * 7) % 256]);
      expect(a.text).toBe(`${v}.${255 - v}.${v % 10}.${(v * 7) % 256}`);
    }
    for (const bad of ['010.0.0.1', '1.2.3.256', '1.2.3.4.5', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '']) expect(() => parseAddr(bad), bad).toThrow();
    expect(parseAddr('100.64.0.1')).toBe(parseAddr('100.64.0.1'));
    expect([...parseAddr('::ffff:10.20.30.40').bytes.slice(12)]).toEqual([10, 20, 30, 40]);
  });
  it('prefix containment and addr:port', () => {
    expect(prefixContains(parsePrefix('fd7a:115c:a1e0:b1a::/64'), parseAddr('fd7a:115c:a1e0:b1a:0:7:a01:203'))).toBe(true);
    expect(prefixContains(parsePrefix('10.0.0.0/24'), parseAddr('10.0.1.1'))).toBe(false);
    expect(parseAddrPort('[::]:9002').port).toBe(9002);
    expect(() => parseAddrPort('fd00::1:9002')).toThrow();
    expect(joinHostPort(parseAddr('fd00::1'), 80)).toBe('[fd00::1]:80');
  });
});
