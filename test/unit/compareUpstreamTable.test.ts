// The pure parts of bench/compare-upstream: reduction, ratio/winner and the DNAT-target parser
// that must read iptables-save, nft rules and nft map elements alike.
import { describe, expect, it } from 'vitest';
import { configJSON, dnatTargets, targets } from '../../bench/compare/services.js';
import { MetricSet, quantile, renderTable, verdict } from '../../bench/compare/stats.js';

describe('compare-upstream table', () => {
  it('reduces to median, p99 and ratio upstream ÷ ours with the winner', () => {
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile(Array.from({ length: 101 }, (_, i) => i), 0.99)).toBe(99);
    const m = new MetricSet();
    for (const v of [10, 12, 11]) m.add('boot', 'ms', 'ours', v);
    for (const v of [30, 33, 36]) m.add('boot', 'ms', 'upstream', v);
    for (const v of [50, 52]) m.add('rss', 'MiB', 'ours', v);
    for (const v of [20, 21]) m.add('rss', 'MiB', 'upstream', v);
    const [boot, rss] = m.all();
    expect(verdict(boot!)).toEqual({ ratio: 3, winner: 'ours' });
    expect(verdict(rss!).winner).toBe('upstream');
    const table = renderTable(m.all());
    expect(table).toContain('| boot (n=3) | 11.0 ms (10.0–12.0) | 33.0 ms (30.0–36.0) | 3.00× | this project |');
    expect(table).toContain('| rss (n=2) | 51.0 MiB (50.0–52.0) | 20.5 MiB (20.0–21.0) | 0.40× | upstream |');
  });

  it('calls values within 5 % a tie and empty sides "–"', () => {
    const m = new MetricSet();
    m.add('x', 'ms', 'ours', 100);
    m.add('x', 'ms', 'upstream', 103);
    m.add('y', 'ms', 'ours', 1);
    expect(m.all().map(verdict).map((v) => v.winner)).toEqual(['tie', '–']);
  });

  it('finds DNAT destinations in iptables-save, nft rules and nft map elements, not SNAT sources', () => {
    const ipt = '-A PREROUTING ! -i tailscale0 -p tcp --dport 10000 -j DNAT --to-destination 100.64.1.1:8080\n-A POSTROUTING -d 100.64.1.1/32 -j SNAT --to-source 100.64.0.1';
    const nft = 'tcp dport 10001 dnat ip to 100.64.1.2:5353\nip daddr 100.64.1.2 snat ip to 100.64.0.1';
    const map = 'elements = { 10002 : 100.64.1.3 . 8080, 10003 : 100.64.1.4 . 5353 }';
    expect([...dnatTargets(`${ipt}\n${nft}\n${map}`)].sort()).toEqual(['100.64.1.1:8080', '100.64.1.2:5353', '100.64.1.3:8080', '100.64.1.4:5353']);
  });

  it('writes one service per target with two port maps', () => {
    const cfg = JSON.parse(configJSON(targets(2, 64)));
    expect(cfg['svc-1']).toEqual({ tailnetTarget: { ip: '100.64.1.2' }, ports: [{ protocol: 'tcp', matchPort: 10001, targetPort: 8080 }, { protocol: 'udp', matchPort: 20001, targetPort: 5353 }] });
    expect(targets(251, 80).get('svc-250')).toBe('100.80.2.1');
  });
});
