import { afterEach, describe, expect, it } from 'vitest';
import { parseIngressConfigs, parseIngressStatus, serializeIngressStatus, type IngressConfigs, type IngressServiceConfig, type IngressStatus } from '../../src/services/ingress/config.js';
import { INGRESS_CLAMP_GROUP, planIngress } from '../../src/services/ingress/plan.js';
import { IngressServices } from '../../src/services/ingress/runner.js';
import { collectLogs, eventually, FakeFirewall, FakeKube } from './fakes.js';
import { KubeletDir } from './kubeletDir.js';

const V4 = '10.0.0.2', V6 = '2001:db8::2';
const v4m = (ts: string, c: string): IngressServiceConfig => ({ ipv4: { tailscaleServiceIP: ts, clusterIP: c } });
const cfgs = (o: Record<string, IngressServiceConfig>): IngressConfigs => new Map(Object.entries(o));
const st = (o: Record<string, IngressServiceConfig>, podIPv4 = V4, podIPv6 = V6): IngressStatus => ({ configs: cfgs(o), podIPv4, podIPv6 });

/** What a firewall holds after applying the plan's groups on top of `before`. */
function installed(groups: Record<string, unknown[]>, before: Record<string, unknown[]> = {}) {
  const all = { ...before, ...groups } as Record<string, { kind: string; svc?: string; clusterIP?: string; family?: number }[]>;
  const mappings: Record<string, string[]> = {};
  const clamps: number[] = [];
  for (const rules of Object.values(all)) for (const r of rules) {
    if (r.kind === 'svc-dnat') (mappings[r.svc!] ??= []).push(r.clusterIP!);
    if (r.kind === 'clamp-mss') clamps.push(r.family!);
  }
  return { mappings, clamps: clamps.sort() };
}

describe('planIngress (upstream TestSyncIngressConfigs)', () => {
  it('adds one service', () => {
    const p = planIngress(cfgs({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1') }), undefined, V4, V6);
    expect(installed(p.groups)).toEqual({ mappings: { 'svc:foo': ['10.0.0.1'] }, clamps: [4] });
    expect(p.logs).toEqual(['adding DNAT rule for Tailscale Service svc:foo with IP 100.99.0.1 to Kubernetes Service IP 10.0.0.1']);
    expect(serializeIngressStatus(p.status!)).toBe('{"configs":{"svc:foo":{"IPv4Mapping":{"TailscaleServiceIP":"100.99.0.1","ClusterIP":"10.0.0.1"}}},"podIPv4":"10.0.0.2","podIPv6":"2001:db8::2"}');
  });
  it('adds three services', () => {
    const p = planIngress(cfgs({ 'svc:a': v4m('100.99.0.1', '10.0.0.1'), 'svc:b': v4m('100.99.0.2', '10.0.0.2'), 'svc:c': v4m('100.99.0.3', '10.0.0.3') }), undefined, V4, V6);
    expect(p.add).toHaveLength(3);
    expect(installed(p.groups).mappings).toEqual({ 'svc:a': ['10.0.0.1'], 'svc:b': ['10.0.0.2'], 'svc:c': ['10.0.0.3'] });
  });
  it('v4 and v6 mappings; v6 only', () => {
    const both: IngressServiceConfig = { ipv4: { tailscaleServiceIP: '100.99.0.1', clusterIP: '10.0.0.1' }, ipv6: { tailscaleServiceIP: 'fd7a:115c:a1e0::1', clusterIP: '2001:db8::2' } };
    expect(installed(planIngress(cfgs({ 'svc:foo': both }), undefined, V4, V6).groups)).toEqual({ mappings: { 'svc:foo': ['10.0.0.1', '2001:db8::2'] }, clamps: [4, 6] });
    const v6: IngressServiceConfig = { ipv6: both.ipv6 };
    expect(installed(planIngress(cfgs({ 'svc:foo': v6 }), undefined, V4, V6).groups)).toEqual({ mappings: { 'svc:foo': ['2001:db8::2'] }, clamps: [6] });
  });
  it('config removed with a current status: everything deleted, nothing clamped', () => {
    const before = planIngress(cfgs({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1') }), undefined, V4, V6);
    const p = planIngress(new Map(), before.status, V4, V6);
    expect(installed(p.groups, before.groups)).toEqual({ mappings: {}, clamps: [] });
    expect(p.del).toHaveLength(1);
    expect(p.logs).toEqual(['deleting DNAT rule for Tailscale Service svc:foo with IP 100.99.0.1 to Kubernetes Service IP 10.0.0.1']);
    expect(serializeIngressStatus(p.status!)).toBe('{"podIPv4":"10.0.0.2","podIPv6":"2001:db8::2"}');
  });
  it('add, remove and modify with a current status', () => {
    const status = st({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1'), 'svc:old': v4m('100.99.0.9', '10.0.0.9') });
    const before = planIngress(status.configs, undefined, V4, V6).groups;
    const p = planIngress(cfgs({ 'svc:foo': v4m('100.99.0.1', '10.0.0.2'), 'svc:new': v4m('100.99.0.4', '10.0.0.4') }), status, V4, V6);
    expect(installed(p.groups, before).mappings).toEqual({ 'svc:foo': ['10.0.0.2'], 'svc:new': ['10.0.0.4'] });
    expect(p.del.map((r) => r.clusterIP)).toEqual(['10.0.0.1', '10.0.0.9']);
    expect(p.add.map((r) => r.clusterIP)).toEqual(['10.0.0.2', '10.0.0.4']);
  });
  it('outdated status (other pod IPs): nothing deleted, every configured service added', () => {
    const status = st({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1') }, '10.0.0.7', '');
    const three = cfgs({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1'), 'svc:b': v4m('100.99.0.2', '10.0.0.2'), 'svc:c': v4m('100.99.0.3', '10.0.0.3') });
    const p = planIngress(three, status, V4, V6);
    expect(p.del).toEqual([]);
    expect(p.add).toHaveLength(3);
    expect(p.status).toBeDefined();
  });
  it('unchanged config with a current status: no write, no changes', () => {
    const c = cfgs({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1') });
    const p = planIngress(c, st({ 'svc:foo': v4m('100.99.0.1', '10.0.0.1') }), V4, V6);
    expect(p.status).toBeUndefined();
    expect(p.add).toEqual([]);
    expect(p.del).toEqual([]);
    expect(planIngress(new Map(), undefined, V4, V6).status).toBeUndefined();
  });
  it('status round trip and config validation naming file and service', () => {
    const text = '{"configs":{"svc:a":{"IPv4Mapping":{"TailscaleServiceIP":"100.99.0.1","ClusterIP":"10.0.0.1"}}},"podIPv4":"10.0.0.2"}';
    expect(serializeIngressStatus(parseIngressStatus(text))).toBe(text);
    expect(() => parseIngressConfigs('{"svc:a":{"IPv4Mapping":{"TailscaleServiceIP":"fd00::1","ClusterIP":"10.0.0.1"}}}', '/etc/proxies/ingress-config.json'))
      .toThrow('invalid ingress services config /etc/proxies/ingress-config.json: service "svc:a": IPv4Mapping.TailscaleServiceIP: fd00::1 is not an IPv4 address');
    expect(() => parseIngressConfigs('nope', '/f')).toThrow(/^error parsing ingress services config \/f: /);
  });
});

describe('IngressServices runner', () => {
  let done: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const d of done.splice(0)) await d(); });

  it('applies on start and on file changes, keeps state on a bad file', async () => {
    const dir = await KubeletDir.create({ 'ingress-config.json': JSON.stringify({ 'svc:foo': { IPv4Mapping: { TailscaleServiceIP: '100.99.0.1', ClusterIP: '10.0.0.1' } } }) });
    const fw = new FakeFirewall();
    const kube = new FakeKube();
    const { lines, log } = collectLogs();
    const ing = new IngressServices({ settings: { ingressProxiesCfgPath: `${dir.dir}/ingress-config.json`, podIPv4: V4, podIPv6: '' }, firewall: fw, kube, log });
    done.push(async () => { await ing.close(); await dir.remove(); });
    await ing.start();
    expect(fw.groups.get('ingress-svc:svc:foo')).toEqual([{ kind: 'svc-dnat', family: 4, svc: 'svc:foo', vip: '100.99.0.1', clusterIP: '10.0.0.1' }]);
    expect(fw.groups.get(INGRESS_CLAMP_GROUP)).toEqual([{ kind: 'clamp-mss', family: 4 }]);
    expect(kube.data.get('ingress-config.json')).toBe('{"configs":{"svc:foo":{"IPv4Mapping":{"TailscaleServiceIP":"100.99.0.1","ClusterIP":"10.0.0.1"}}},"podIPv4":"10.0.0.2"}');
    await dir.update({ 'ingress-config.json': '{"svc:foo":{"IPv4Mapping":{"TailscaleServiceIP":"x"}}}' });
    await eventually(() => lines.some((l) => l.startsWith('invalid ingress services config')));
    expect(lines.find((l) => l.startsWith('invalid ingress services config'))).toContain('service "svc:foo"');
    expect(fw.batches).toHaveLength(1);
    await dir.update({ 'ingress-config.json': '' });
    await eventually(() => fw.groups.size === 0);
    await ing.idle();
    expect(kube.data.get('ingress-config.json')).toBe('{"podIPv4":"10.0.0.2"}');
  });
});
