import { describe, expect, it } from 'vitest';
import { emptyNetmap, type NodeInfo, type NetmapState } from '../../src/netmap/types.js';
import { parse4via6Name, parseUint32Base0, resolveTailnetFQDN, toFQDN } from '../../src/proxies/resolveTailnetFQDN.js';

function node(id: string, name: string, addresses: string[], allowedIPs: string[] = addresses): NodeInfo {
  return { id, stableID: `n${id}`, name, key: `nodekey:${id}`, addresses, allowedIPs };
}

function state(peers: NodeInfo[], extra: NetmapState['extraRecords'] = []): NetmapState {
  const s = emptyNetmap();
  for (const p of peers) {
    if (p.id === '0') s.peersByName.set(p.name, p); else s.peersByID.set(p.id, p);
  }
  s.extraRecords = extra;
  return s;
}

describe('toFQDN', () => {
  it('adds the trailing dot and validates labels', () => {
    expect(toFQDN('foo.tailnet.ts.net')).toBe('foo.tailnet.ts.net.');
    expect(toFQDN('foo.tailnet.ts.net.')).toBe('foo.tailnet.ts.net.');
    expect(() => toFQDN('foo..bar')).toThrow('"" is not a valid DNS label');
    expect(() => toFQDN('-foo.bar')).toThrow('"-foo" is not a valid DNS label');
    expect(() => toFQDN(`${'a.'.repeat(127)}ab`)).toThrow('is too long to be a DNS name');
  });
});

describe('resolveTailnetFQDN', () => {
  const peerA = node('1', 'foo.tailnet.ts.net.', ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128']);
  const peerB = node('2', 'bar.tailnet.ts.net.', ['100.64.0.3/32'], ['100.64.0.3/32', '100.99.10.20/32', 'fd7a:115c:a1e0:b1a::/64']);
  const peerC = node('0', 'baz.tailnet.ts.net.', ['100.64.0.4/32'], ['100.64.0.4/32', '100.99.10.20/32']);

  it('matches a peer by name, case-insensitively, with or without trailing dot', () => {
    const s = state([peerA, peerB]);
    expect(resolveTailnetFQDN(s, 'FOO.tailnet.ts.net')).toEqual(['100.64.0.2/32', 'fd7a:115c:a1e0::2/128']);
    expect(resolveTailnetFQDN(s, 'foo.tailnet.ts.net.')).toEqual(['100.64.0.2/32', 'fd7a:115c:a1e0::2/128']);
  });

  it('resolves a Tailscale Service once per peer serving its VIP', () => {
    const s = state([peerA, peerB, peerC], [{ Name: 'My-Ingress.tailnet.ts.net.', Type: 'A', Value: '100.99.10.20' }]);
    expect(resolveTailnetFQDN(s, 'my-ingress.tailnet.ts.net')).toEqual(['100.99.10.20/32', '100.99.10.20/32']);
  });

  it('ignores records whose value is not an IP and VIPs no peer serves', () => {
    const s = state([peerA], [{ Name: 'svc.tailnet.ts.net', Value: 'not-an-ip' }, { Name: 'svc.tailnet.ts.net', Value: '100.99.10.21' }]);
    expect(() => resolveTailnetFQDN(s, 'svc.tailnet.ts.net')).toThrow(
      'could not find Tailscale node, service or 4via6 address "svc.tailnet.ts.net"; it either does not exist, or not reachable because of ACLs');
  });

  it('resolves 4via6 names routed by a peer', () => {
    const s = state([peerA, peerB]);
    expect(resolveTailnetFQDN(s, '10-1-2-3-via-7.tailnet.ts.net')).toEqual(['fd7a:115c:a1e0:b1a:0:7:a01:203/128']);
    expect(resolveTailnetFQDN(s, '10-1-2-3-via-0x10')).toEqual(['fd7a:115c:a1e0:b1a:0:10:a01:203/128']);
  });

  it('errors when no peer routes the 4via6 address', () => {
    const s = state([peerA]);
    expect(() => resolveTailnetFQDN(s, '10-1-2-3-via-7.tailnet.ts.net')).toThrow(
      'resolved 4via6 address fd7a:115c:a1e0:b1a:0:7:a01:203 for "10-1-2-3-via-7.tailnet.ts.net" but no peer advertises a route containing it');
  });

  it('rejects invalid names with upstream text', () => {
    expect(() => resolveTailnetFQDN(state([]), 'bad_name.ts.net')).toThrow('error parsing "bad_name.ts.net" as FQDN: "bad_name" is not a valid DNS label');
  });

  it('4via6 parsing details', () => {
    expect(parse4via6Name('10-1-2-3-via-7.example.com')).toBeUndefined();
    expect(parse4via6Name('10-1-2-3-via-7.foo.tailscale.net')).toBe('fd7a:115c:a1e0:b1a:0:7:a01:203');
    expect(parse4via6Name('10-1-2-via-7.ts.net')).toBeUndefined();
    expect(parseUint32Base0('0x10')).toBe(16);
    expect(parseUint32Base0('010')).toBe(8);
    expect(parseUint32Base0('0b101')).toBe(5);
    expect(parseUint32Base0('1_000')).toBe(1000);
    expect(parseUint32Base0('4294967296')).toBeUndefined();
    expect(parseUint32Base0('12a')).toBeUndefined();
  });
});
