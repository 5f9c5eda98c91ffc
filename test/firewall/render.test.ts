import { describe, expect, it } from 'vitest';
import { parseSave, renderRestore } from '../../src/firewall/iptablesText.js';
import { lowerGroup } from '../../src/firewall/model.js';
import { emptyNftSnapshot, planNft } from '../../src/firewall/nftPlan.js';
import { parseNftList, renderNft } from '../../src/firewall/nftText.js';
import { chainKey, emptySnapshot, plan } from '../../src/firewall/plan.js';

const want = lowerGroup('g', [
  { kind: 'portmap', family: 6, svc: 's', proto: 'udp', matchPort: 53, targetIP: 'fd7a:115c:a1e0::7', targetPort: 5353 },
  { kind: 'dnat-non-tailscale', family: 4, to: '100.64.0.2' },
  { kind: 'dnat-lb', family: 4, dst: '100.64.0.1', backends: ['192.0.2.2', '192.0.2.3'] },
  { kind: 'snat', family: 6, dst: 'fd7a:115c:a1e0::7', src: 'fd7a:115c:a1e0::1' },
  { kind: 'clamp-mss', family: 4 },
]);

describe('nft rendering (map layout)', () => {
  const { ops } = planNft(emptyNftSnapshot(), [want], [4, 6]);
  const text = renderNft(ops);

  it('uses one base chain per hook, maps for keyed rules, iifname, bracket-free map targets and our own tables', () => {
    expect(text).toContain('add table ip containerboot');
    expect(text).toContain('add chain ip containerboot prerouting { type nat hook prerouting priority dstnat; policy accept; }');
    expect(text).toContain('add chain ip6 containerboot postrouting { type nat hook postrouting priority srcnat; policy accept; }');
    expect(text).toContain('add map ip6 containerboot cb-portmap { type inet_proto . inet_service : ipv6_addr . inet_service; }');
    expect(text).toContain('add rule ip6 containerboot prerouting iifname != "tailscale0*" dnat to meta l4proto . th dport map @cb-portmap comment "containerboot|portmap map"');
    expect(text).toContain('add rule ip6 containerboot postrouting snat to ip6 daddr map @cb-snat comment "containerboot|snat map"');
    expect(text).toContain(`add element ip6 containerboot cb-portmap { udp . 53 comment "${want.tag} g|pm s udp:53>[fd7a:115c:a1e0::7]:5353" : fd7a:115c:a1e0::7 . 5353 }`);
    expect(text).toContain(`add element ip6 containerboot cb-snat { fd7a:115c:a1e0::7 comment "${want.tag} g|snat fd7a:115c:a1e0::7>fd7a:115c:a1e0::1" : fd7a:115c:a1e0::1 }`);
    // Rules no map can hold live in the group's own chain, jumped to from the base chain.
    expect(text).toContain(`add rule ip containerboot prerouting jump cbg-${want.tag}-pre comment "containerboot|group ${want.tag}"`);
    expect(text).toContain(`add rule ip containerboot cbg-${want.tag}-pre iifname != "tailscale0*" dnat to 100.64.0.2 comment "g|dnat-nonts >100.64.0.2"`);
    expect(text).toContain('ip daddr 100.64.0.1 dnat to numgen inc mod 2 map { 0 : 192.0.2.2, 1 : 192.0.2.3 }');
    expect(text).toContain('add chain ip containerboot ts-clamp { type filter hook forward priority mangle; policy accept; }');
    expect(text).toContain('oifname "tailscale0*" meta l4proto tcp tcp flags & syn != 0 tcp option maxseg size set rt mtu');
    expect(text).not.toContain('oifname !=');
    expect(text).not.toMatch(/cb-[0-9a-f]{16}-/);
  });

  it('parses a listing back into the same state: nothing left to do', () => {
    const tag = want.tag;
    const listing = (f: 'ip' | 'ip6') => ({
      nftables: [
        { table: { family: f, name: 'containerboot' } },
        { map: { name: 'cb-dnat' } },
        { map: { name: 'cb-snat', elem: f === 'ip6' ? [[{ elem: { val: 'fd7a:115c:a1e0::7', comment: `${tag} g|snat fd7a:115c:a1e0::7>fd7a:115c:a1e0::1` } }, 'fd7a:115c:a1e0::1']] : [] } },
        { map: { name: 'cb-portmap', elem: f === 'ip6' ? [[{ elem: { val: { concat: ['udp', 53] }, comment: `${tag} g|pm s udp:53>[fd7a:115c:a1e0::7]:5353` } }, { concat: ['fd7a:115c:a1e0::7', 5353] }]] : [] } },
        { chain: { name: 'prerouting' } },
        { chain: { name: 'postrouting' } },
        { rule: { chain: 'prerouting', comment: 'containerboot|dnat map' } },
        { rule: { chain: 'prerouting', comment: 'containerboot|portmap map' } },
        { rule: { chain: 'postrouting', comment: 'containerboot|snat map' } },
        ...(f === 'ip' ? [
          { chain: { name: `cbg-${tag}-pre` } },
          { rule: { chain: 'prerouting', comment: `containerboot|group ${tag}` } },
          ...want.rules.filter((r) => r.family === 4).map((r) => ({ rule: { chain: `cbg-${tag}-pre`, comment: r.id } })),
          { chain: { name: 'ts-clamp' } },
          { rule: { chain: 'ts-clamp', comment: 'containerboot|clamp-mss out' } },
          { rule: { chain: 'ts-clamp', comment: 'containerboot|clamp-mss in' } },
        ] : []),
        { rule: { chain: 'other' } },
      ],
    });
    const snap = parseNftList(JSON.stringify(listing('ip')), 4);
    parseNftList(JSON.stringify(listing('ip6')), 6, snap);
    expect([...snap.skeleton].sort()).toEqual([4, 6]);
    expect(planNft(snap, [want], [4, 6]).ops).toEqual([]);
    // Without the IPv6 SNAT element only that element is added back.
    const less = parseNftList(JSON.stringify(listing('ip')), 4);
    const l6 = listing('ip6');
    (l6.nftables[2] as { map: { elem: unknown[] } }).map.elem = [];
    parseNftList(JSON.stringify(l6), 6, less);
    expect(planNft(less, [want], [4, 6]).ops.map((o) => o.op)).toEqual(['elem-add']);
  });
});

describe('iptables rendering and parsing', () => {
  it('round-trips through iptables-save text', () => {
    const ops = plan(emptySnapshot(), [want]);
    const four = renderRestore(ops, 4);
    expect(four.startsWith('*mangle\n')).toBe(true);
    expect(four).toContain(`-I PREROUTING 1 -m comment --comment "containerboot|group ${want.tag}" -j CB-${want.tag}-PRE`);
    // What iptables-save prints for it: chains, then -A lines (the jump becomes -A).
    const save = [
      '*nat', ':PREROUTING ACCEPT [0:0]', `:CB-${want.tag}-PRE - [0:0]`,
      ...four.split('\n').filter((l) => l.startsWith(`-A CB-`)),
      'COMMIT', '*mangle', ':FORWARD ACCEPT [0:0]',
      ...four.split('\n').filter((l) => l.startsWith('-A FORWARD')),
      'COMMIT',
    ].join('\n');
    const snap = parseSave(save, 4);
    expect(snap.chains.get(chainKey(4, 'pre', want.tag))).toEqual(want.rules.filter((r) => r.family === 4 && r.hook === 'pre').map((r) => r.id));
    expect([...snap.clamp].sort()).toEqual(['4:in', '4:out']);
  });

  it('deletes a group by removing its jump, emptying and deleting its chain', () => {
    const snap = emptySnapshot();
    snap.chains.set(chainKey(4, 'pre', want.tag), ['x']);
    const ops = plan(snap, [lowerGroup('g', [])]);
    expect(renderRestore(ops, 4)).toBe(
      `*nat\n-D PREROUTING -m comment --comment "containerboot|group ${want.tag}" -j CB-${want.tag}-PRE\n:CB-${want.tag}-PRE - [0:0]\n-X CB-${want.tag}-PRE\nCOMMIT\n`);
  });

  it('reads quoted comments with escapes', () => {
    const snap = parseSave(`*nat\n:CB-0123456789abcdef-POST - [0:0]\n-A CB-0123456789abcdef-POST -d 1.2.3.4/32 -m comment --comment "a \\"b\\" c" -j SNAT --to-source 5.6.7.8\nCOMMIT\n`, 4);
    expect(snap.chains.get(chainKey(4, 'post', '0123456789abcdef'))).toEqual(['a "b" c']);
  });
});

describe('error mapping', () => {
  it('maps libnftables / iptables errno text to codes', async () => {
    const { codeFromText } = await import('../../src/firewall/errors.js');
    expect(codeFromText('Error: Could not process rule: No such file or directory')).toBe('ENOENT');
    expect(codeFromText('Error: Could not process rule: Device or resource busy')).toBe('EBUSY');
    expect(codeFromText('Error: Could not process rule: File exists')).toBe('EEXIST');
    expect(codeFromText('Error: Could not process rule: Operation not supported')).toBe('EOPNOTSUPP');
    expect(codeFromText('iptables-restore: Permission denied (you must be root)')).toBe('EACCES');
    expect(codeFromText('something else')).toBe('UNKNOWN');
  });
});
