// Fuzzed config swaps (kubelet ..data layout) against the running HA egress and ingress services:
// after a valid file the rules and the Secret status are what a fresh start on that file gives;
// after a truncated, mistyped, huge, unicode or symlink-looped file a line names the file and the
// previously applied rules and status stay exactly as they were, and the runner keeps running.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { EgressServices } from '../../src/services/egress/runner.js';
import { IngressServices } from '../../src/services/ingress/runner.js';
import { parseEgressConfigs } from '../../src/services/egress/config.js';
import { parseIngressConfigs } from '../../src/services/ingress/config.js';
import { collectLogs, eventually, FakeFirewall, FakeKube, netmap, node } from '../services/fakes.js';
import { KubeletDir } from '../services/kubeletDir.js';
import { fuzzParams, fuzzTimeout } from './arbitraries.js';
import { corrupted } from './fileInputs.js';

const SELF = ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'];
const NM = netmap(SELF, [node('foo.tailnetxyz.ts.net.', ['100.64.0.2/32'], '7'), node('bar.tailnetxyz.ts.net.', ['100.64.0.3/32'], '8')]);
const egressDoc = (port: number) => ({
  foo: { tailnetTarget: { fqdn: 'foo.tailnetxyz.ts.net' }, ports: [{ protocol: 'tcp', matchPort: 4003, targetPort: port }] },
  bar: { tailnetTarget: { ip: '100.64.0.3' }, ports: [{ protocol: 'udp', matchPort: 53, targetPort: 53 }] },
});
const ingressDoc = (n: number) => ({ 'svc:foo': { IPv4Mapping: { TailscaleServiceIP: `100.99.0.${n}`, ClusterIP: '10.0.0.1' } } });

type Step = { text: string } | { loop: true };
const steps = (doc: (n: number) => unknown) => fc.array(fc.oneof(
  fc.integer({ min: 1, max: 250 }).map((n) => ({ text: JSON.stringify(doc(n)) })),
  corrupted(doc(7)).map((text) => ({ text })),
  fc.constant({ loop: true as const }),
), { minLength: 2, maxLength: 5 });

interface Runner { start(): Promise<void>; idle(): Promise<void>; close(): Promise<void>; failed: Promise<Error> }
type Make = (path: string, fw: FakeFirewall, kube: FakeKube, log: (m: string) => void) => Runner;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

/**
 * The applied state in a comparable form: rule groups sorted by name (each group is its own chain;
 * the order groups were created in depends on history), status keys parsed, and a status without
 * services (none, `null` or `{}`) treated as no status (upstream writes `{"podIPv4":…}` when the last service goes away,
 * a fresh start on an empty config writes nothing; both mean "current, nothing configured").
 */
function applied(fw: FakeFirewall, kube: FakeKube): string {
  const groups = [...fw.groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const status: Record<string, unknown> = {};
  for (const [k, v] of [...kube.data].sort()) {
    const st = JSON.parse(v) as Record<string, unknown>;
    for (const f of ['configs', 'services']) if (st[f] === null || (st[f] && Object.keys(st[f] as object).length === 0)) delete st[f];
    if (Object.keys(st).every((f) => f === 'podIPv4' || f === 'podIPv6')) continue;
    status[k] = st;
  }
  return JSON.stringify([groups, status]);
}

/** Rules and status a fresh start on `text` produces: the reference for a valid file. */
async function reference(file: string, text: string, make: Make) {
  const dir = await KubeletDir.create({ [file]: text });
  const fw = new FakeFirewall();
  const kube = new FakeKube();
  const r = make(dir.dir, fw, kube, () => {});
  await r.start();
  await r.idle();
  await r.close();
  await dir.remove();
  return applied(fw, kube);
}

async function runSequence(file: string, first: string, seq: Step[], valid: (t: string) => boolean, make: Make): Promise<void> {
  const dir = await KubeletDir.create({ [file]: first });
  const fw = new FakeFirewall();
  const kube = new FakeKube();
  const { lines, log } = collectLogs();
  const r = make(dir.dir, fw, kube, log);
  let failure: Error | undefined;
  void r.failed.then((e) => { failure = e; });
  cleanups.push(async () => { await r.close(); await dir.remove(); });
  await r.start();
  await r.idle();
  for (const step of seq) {
    const before = { groups: structuredClone([...fw.groups]), status: [...kube.data] };
    const seen = lines.length;
    if ('loop' in step) {
      await dir.update({ [file]: { link: file } });
    } else {
      await dir.update({ [file]: step.text });
    }
    if ('text' in step && valid(step.text)) {
      const want = await reference(file, step.text, make);
      await eventually(() => applied(fw, kube) === want, 5000)
        .catch(() => { throw new Error(`valid file not applied: ${step.text.slice(0, 200)}\nwant ${want.slice(0, 600)}\ngot  ${applied(fw, kube).slice(0, 600)}\n${lines.slice(seen).join('\n')}`); });
    } else {
      await eventually(() => lines.slice(seen).some((l) => l.includes(`${dir.dir}/${file}`)), 5000)
        .catch(() => { throw new Error(`no line names the file after ${JSON.stringify(step).slice(0, 200)}; got: ${lines.slice(seen).join(' | ').slice(0, 500)}`); });
      await r.idle();
      expect([...fw.groups], 'rules kept').toEqual(before.groups);
      expect([...kube.data], 'status kept').toEqual(before.status);
    }
    expect(failure, 'runner still running').toBeUndefined();
    if (process.env.FUZZ_DEBUG) console.log(JSON.stringify(step).slice(0, 80), "=>", lines.slice(seen).join(" / ").slice(0, 300));
  }
}

function parses(parse: (t: string, f: string) => unknown) {
  return (t: string) => { try { parse(t, 'f'); return true; } catch { return false; } };
}

describe('fuzz: config swaps against the running services', () => {
  it('egress services: valid files applied, bad ones named and the previous state kept', async () => {
    const make: Make = (d, fw, kube, log) => {
      const eg = new EgressServices({ settings: { egressProxiesCfgPath: d, podIPv4: '10.0.0.1', podIPv6: '' }, firewall: fw, kube, log });
      return { start: () => eg.start(NM), idle: () => eg.idle(), close: () => eg.close(), failed: eg.failed };
    };
    await fc.assert(fc.asyncProperty(steps(egressDoc), async (seq) => {
      await runSequence('egress-services', JSON.stringify(egressDoc(80)), seq, parses(parseEgressConfigs), make);
      for (const c of cleanups.splice(0)) await c();
    }), fuzzParams(12));
  }, fuzzTimeout(120_000));

  it('ingress services: valid files applied, bad ones named and the previous state kept', async () => {
    const make: Make = (d, fw, kube, log) => {
      const ing = new IngressServices({ settings: { ingressProxiesCfgPath: `${d}/ingress-config.json`, podIPv4: '10.0.0.2', podIPv6: '' }, firewall: fw, kube, log });
      return { start: () => ing.start(), idle: () => ing.idle(), close: () => ing.close(), failed: ing.failed };
    };
    await fc.assert(fc.asyncProperty(steps(ingressDoc), async (seq) => {
      await runSequence('ingress-config.json', JSON.stringify(ingressDoc(1)), seq, parses(parseIngressConfigs), make);
      for (const c of cleanups.splice(0)) await c();
    }), fuzzParams(12));
  }, fuzzTimeout(120_000));
});
