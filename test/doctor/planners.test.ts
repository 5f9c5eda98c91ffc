// The doctor's pure planners: every ✓ / ⚠ / ✗ branch from hand-made facts.
import { describe, expect, it } from 'vitest';
import type { FirewallFacts, HostFacts, KubeFacts, ReviewFact } from '../../src/doctor/facts.js';
import { firewallLines, mismatchLine } from '../../src/doctor/firewallChecks.js';
import { binaryLine, capabilityLine, configLines, forwardingLines, parseCapEff, socketLine, tunLine } from '../../src/doctor/hostChecks.js';
import { kubeLines, reviewsNeeded, roleSnippet } from '../../src/doctor/kubeChecks.js';
import { exitCode, formatLines, type Line } from '../../src/doctor/lines.js';
import type { DoctorView } from '../../src/doctor/view.js';

const ALL_CAPS = 0x1ffffffffffn;
const kernel: DoctorView = {
  userspace: false, root: '/', socket: '/tmp/tailscaled.sock', inKubernetes: false, kubeSecret: '', fakeNetfilter: false,
  kubeReadAPIServerAddressFromEnv: false, kubernetesServiceHost: '', kubernetesServicePortHTTPS: '',
  needs: { forwarding: { v4: true, v6: false }, firewall: true },
};
const userspace: DoctorView = { ...kernel, userspace: true, needs: { forwarding: { v4: false, v6: false }, firewall: false } };

function host(over: Partial<HostFacts> = {}): HostFacts {
  return {
    configErrors: [], tunPath: '/dev/net/tun', tun: { kind: 'char', major: 10, minor: 200 }, capEff: ALL_CAPS,
    sysctls: [
      { family: 4, name: 'net.ipv4.ip_forward', path: '/proc/sys/net/ipv4/ip_forward', value: '1' },
      { family: 6, name: 'net.ipv6.conf.all.forwarding', path: '/proc/sys/net/ipv6/conf/all/forwarding', value: '0' },
    ],
    socket: { path: '/tmp/tailscaled.sock', dir: '/tmp', dirExists: true, socketExists: false },
    binaries: [], ...over,
  };
}
const marks = (ls: Line[]) => ls.map((l) => l.mark);

describe('host planners', () => {
  it('config: ✓ when valid, one ✗ with a fix per error', () => {
    expect(configLines(kernel, [])).toMatchObject([{ mark: 'ok', text: 'valid (kernel networking)' }]);
    const ls = configLines({ ...kernel, kubeSecret: 'ts' }, ['invalid configuration: a', 'invalid configuration: b']);
    expect(marks(ls)).toEqual(['fail', 'fail']);
    expect(ls[1]!.text).toBe('invalid configuration: b');
    expect(ls.every((l) => l.fix)).toBe(true);
  });

  it('tun: every device state', () => {
    expect(tunLine(kernel, host()).mark).toBe('ok');
    expect(tunLine(userspace, host({ tun: { kind: 'missing' } })).mark).toBe('ok');
    expect(tunLine(kernel, host({ tun: { kind: 'char', major: 10, minor: 200, openError: 'EPERM (operation not permitted)' } })))
      .toMatchObject({ mark: 'fail', text: expect.stringContaining('cannot be opened read-write: EPERM') });
    expect(tunLine(kernel, host({ tun: { kind: 'char', major: 1, minor: 3 } })).text).toContain('1:3, not the tun device');
    expect(tunLine(kernel, host({ tun: { kind: 'missing' } })).mark).toBe('warn'); // CAP_MKNOD: boot creates it
    expect(tunLine(kernel, host({ tun: { kind: 'missing' }, capEff: ALL_CAPS & ~(1n << 27n) })))
      .toMatchObject({ mark: 'fail', fix: expect.stringContaining('--device /dev/net/tun') });
    expect(tunLine(kernel, host({ tun: { kind: 'other', what: 'regular file' } })).mark).toBe('fail');
    expect(tunLine(kernel, host({ tun: { kind: 'error', error: 'EACCES' } })).mark).toBe('fail');
  });

  it('capabilities: CapEff parsing and NET_ADMIN / NET_RAW', () => {
    expect(parseCapEff('Name:\tx\nCapInh:\t0\nCapEff:\t000001fffeffffff\nCapBnd:\t0\n')).toBe(0x1fffeffffffn);
    expect(parseCapEff('no caps here')).toBeUndefined();
    expect(capabilityLine(kernel, host()).mark).toBe('ok');
    const noRaw = capabilityLine(kernel, host({ capEff: ALL_CAPS & ~(1n << 13n) }));
    expect(noRaw).toMatchObject({ mark: 'fail', text: expect.stringMatching(/^kernel mode needs NET_RAW, not in CapEff/) });
    expect(noRaw.fix).toContain('--cap-add=NET_RAW');
    const none = capabilityLine(kernel, host({ capEff: 0n }));
    expect(none.text).toContain('NET_ADMIN and NET_RAW');
    expect(capabilityLine(userspace, host({ capEff: 0n })).mark).toBe('ok');
    expect(capabilityLine(kernel, host({ capEff: undefined })).mark).toBe('warn');
  });

  it('forwarding: needed, not needed, unknown; readable, writable', () => {
    expect(marks(forwardingLines(kernel, host()))).toEqual(['ok', 'ok']);
    const ro = host({ sysctls: [{ family: 4, name: 'net.ipv4.ip_forward', path: 'p', value: '0', writeError: 'EROFS (read-only file system)' }] });
    const l = forwardingLines(kernel, ro)[0]!;
    expect(l).toMatchObject({ mark: 'fail', text: 'net.ipv4.ip_forward = 0 and not writable (EROFS (read-only file system))' });
    expect(l.fix).toContain('--sysctl net.ipv4.ip_forward=1');
    expect(forwardingLines({ ...kernel, inKubernetes: true }, ro)[0]!.fix).toContain('privileged initContainer');
    expect(forwardingLines({ ...kernel, needs: undefined }, ro)[0]!.mark).toBe('warn');
    expect(forwardingLines({ ...kernel, needs: { forwarding: { v4: false, v6: false }, firewall: false } }, ro)[0]!.mark).toBe('ok');
    const unreadable = host({ sysctls: [{ family: 6, name: 'net.ipv6.conf.all.forwarding', path: 'p', readError: 'ENOENT' }] });
    expect(forwardingLines({ ...kernel, needs: { forwarding: { v4: false, v6: true }, firewall: true } }, unreadable)[0]!.mark).toBe('fail');
    expect(forwardingLines(kernel, unreadable)[0]!.mark).toBe('ok');
    expect(forwardingLines({ ...kernel, forwardingError: 'invalid cluster destination IP: x' }, host())[0]!.mark).toBe('fail');
    expect(marks(forwardingLines(userspace, ro))).toEqual(['ok']);
    // access() says writable, but without CAP_NET_ADMIN the kernel refuses ip_forward writes (not IPv6's).
    const noAdmin = forwardingLines({ ...kernel, needs: { forwarding: { v4: true, v6: true }, firewall: true } },
      host({ capEff: ALL_CAPS & ~(1n << 12n), sysctls: host().sysctls.map((s) => ({ ...s, value: '0' })) }));
    expect(noAdmin.map((l) => `${l.mark} ${l.text}`)).toEqual([
      'fail net.ipv4.ip_forward = 0 and not writable (the kernel refuses ip_forward writes without CAP_NET_ADMIN)',
      'ok net.ipv6.conf.all.forwarding = 0, writable: boot sets it to 1 when needed',
    ]);
  });

  it('socket directory', () => {
    expect(socketLine(host()).mark).toBe('ok');
    expect(socketLine(host({ socket: { path: '/run/ts/s.sock', dir: '/run/ts', dirExists: false, socketExists: false } })).mark).toBe('ok');
    expect(socketLine(host({ socket: { path: '/tmp/s', dir: '/tmp', dirExists: true, socketExists: true } })).mark).toBe('warn');
    expect(socketLine(host({ socket: { path: '/ro/s', dir: '/ro', dirExists: true, socketExists: false, writeError: 'EROFS' } })).mark).toBe('fail');
    expect(socketLine(host({ socket: { path: '/ro/x/s', dir: '/ro/x', dirExists: false, socketExists: false, writeError: 'EROFS' } })).text).toContain('cannot be created');
  });

  it('tailscaled / tailscale on PATH and their versions', () => {
    expect(binaryLine({ name: 'tailscaled' }, '1.102.3')).toMatchObject({ mark: 'fail', text: 'not found on PATH' });
    expect(binaryLine({ name: 'tailscale', path: '/b/tailscale', error: 'exit 1: boom' }, '1.102.3').mark).toBe('fail');
    expect(binaryLine({ name: 'tailscale', path: '/b/tailscale', version: '1.90.0' }, '1.102.3').mark).toBe('warn');
    expect(binaryLine({ name: 'tailscale', path: '/b/tailscale', version: '1.102.3' }, '1.102.3').mark).toBe('ok');
    expect(binaryLine({ name: 'tailscale', path: '/b/tailscale', version: '1.102.3-tabc' }, '1.102.3').mark).toBe('ok');
  });
});

function fw(over: Partial<FirewallFacts> = {}): FirewallFacts {
  return {
    fake: false,
    backends: [
      { name: 'iptables-legacy', usable: true, rules: 0 },
      { name: 'iptables-nft', usable: true, rules: 0 },
      { name: 'nftables', usable: true, rules: 0 },
    ],
    decision: { mode: 'iptables', reason: 'TS_DEBUG_FIREWALL_MODE is unset (default iptables)' },
    auto: { mode: 'nftables', reason: 'no rules anywhere and nftables works' },
    iptablesVariant: 'nft', missingTools: [], ipv6Usable: true, ipv6NAT: true, ...over,
  };
}
const withRules = (f: FirewallFacts, name: string, rules: number): FirewallFacts => ({ ...f, backends: f.backends.map((b) => (b.name === name ? { ...b, rules } : b)) });

describe('firewall planner', () => {
  it('all backends work, no mismatch', () => {
    const ls = firewallLines(kernel, fw());
    expect(marks(ls)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(ls[3]!.text).toBe('boot would use iptables through iptables-nft: TS_DEBUG_FIREWALL_MODE is unset (default iptables); auto would pick nftables (no rules anywhere and nftables works)');
  });

  it('legacy rules while boot writes through nf_tables: ⚠ mismatch naming the upstream issues', () => {
    const l = mismatchLine(withRules(fw(), 'iptables-legacy', 3));
    expect(l).toMatchObject({ mark: 'warn', text: expect.stringContaining('3 iptables-legacy rule(s)') });
    expect(l.text).toContain('#17854');
    expect(mismatchLine(withRules(fw({ decision: { mode: 'nftables', reason: 'x' } }), 'iptables-legacy', 1)).mark).toBe('warn');
  });

  it('nf_tables rules while boot writes with iptables-legacy: ⚠ mismatch', () => {
    const f = withRules(fw({ iptablesVariant: 'legacy' }), 'nftables', 4);
    expect(mismatchLine(f)).toMatchObject({ mark: 'warn', text: expect.stringContaining('4 nf_tables rule(s)') });
    expect(mismatchLine(withRules(fw({ iptablesVariant: 'legacy' }), 'iptables-legacy', 4)).mark).toBe('ok');
    expect(mismatchLine(fw({ iptablesVariant: '' })).text).toContain('not checked');
    const unlisted = fw({ backends: [{ name: 'iptables-legacy', usable: false, rules: 0, error: 'Permission denied (you must be root)' }, ...fw().backends.slice(1)] });
    expect(mismatchLine(unlisted)).toMatchObject({ mark: 'warn', text: 'cannot list iptables-legacy here (Permission denied (you must be root)), so rules there cannot be ruled out' });
    const absent = fw({ backends: [{ name: 'iptables-legacy', usable: false, rules: 0, error: 'not found', notInstalled: true }, ...fw().backends.slice(1)] });
    expect(mismatchLine(absent)).toMatchObject({ mark: 'ok', text: expect.stringContaining('iptables-legacy is not installed here') });
  });

  it('the chosen backend does not work: ✗ when a firewall is needed, ⚠ when not', () => {
    const broken = fw({ decision: { mode: 'nftables', reason: 'TS_DEBUG_FIREWALL_MODE=nftables' },
      backends: [{ name: 'iptables-legacy', usable: true, rules: 0 }, { name: 'iptables-nft', usable: false, rules: 0, error: 'x' }, { name: 'nftables', usable: false, rules: 0, error: 'loading libnftables.so.1: nope' }] });
    const ls = firewallLines(kernel, broken);
    expect(marks(ls)).toEqual(['ok', 'warn', 'warn', 'fail', 'ok', 'ok']);
    expect(ls[3]!.fix).toBe('set TS_DEBUG_FIREWALL_MODE=iptables (working here: iptables-legacy)');
    expect(firewallLines(userspace, broken)[3]!.mark).toBe('warn');
    const missing = firewallLines(kernel, fw({ missingTools: ['iptables-nft-restore'] }))[3]!;
    expect(missing).toMatchObject({ mark: 'fail', text: expect.stringContaining('iptables-nft-restore not on PATH') });
    expect(firewallLines(kernel, fw({ decision: undefined, decisionError: 'boom' }))[3]!.mark).toBe('fail');
  });

  it('IPv6 NAT: ⚠ when missing, ✗ when an IPv6 target needs it; the fake needs nothing', () => {
    expect(firewallLines(kernel, fw({ ipv6NAT: false }))[5]!.mark).toBe('warn');
    const v6 = { ...kernel, needs: { forwarding: { v4: false, v6: true }, firewall: true } };
    expect(firewallLines(v6, fw({ ipv6NAT: false, ipv6Usable: false }))[5]).toMatchObject({ mark: 'fail', text: expect.stringContaining('IPv6 is disabled') });
    expect(firewallLines(kernel, fw({ fake: true }))).toMatchObject([{ mark: 'ok', check: 'firewall' }]);
  });
});

const kubeView: DoctorView = { ...userspace, inKubernetes: true, kubeSecret: 'tailscale', kubernetesServiceHost: '10.0.0.1' };
function kube(denied: string[] = [], secret: KubeFacts['secret'] = { exists: true, keys: ['device_id'] }): KubeFacts {
  const reviews: ReviewFact[] = reviewsNeeded('tailscale').map((r) => ({ ...r, allowed: !denied.includes(`${r.resource}/${r.verb}`) }));
  return { saDir: '/sa', namespace: 'ns', url: 'https://10.0.0.1', reviews, secret };
}

describe('kube planner', () => {
  it('nothing outside Kubernetes without a Secret; TS_KUBE_SECRET outside Kubernetes is ✗', () => {
    expect(kubeLines(kernel, undefined)).toEqual([]);
    expect(kubeLines({ ...kernel, kubeSecret: 'x' }, undefined)[0]!.mark).toBe('fail');
    expect(kubeLines({ ...kubeView, kubeSecret: '' }, undefined)[0]!.mark).toBe('ok');
  });

  it('everything allowed: ✓ for the SA, the API, each of the 7 reviews and the Secret, no Role', () => {
    const ls = kubeLines(kubeView, kube());
    expect(ls.map((l) => `${l.mark} ${l.check}`)).toEqual(['ok kube.serviceaccount', 'ok kube.api', ...Array(7).fill('ok kube.rbac'), 'ok kube.secret']);
    expect(ls[2]!.text).toBe('may get secrets/tailscale');
  });

  it('denials: get/update ✗, patch and events ⚠, and a Role for exactly what is missing', () => {
    const ls = kubeLines(kubeView, kube(['secrets/update', 'secrets/patch', 'secrets/create', 'events/create']));
    const rbac = ls.filter((l) => l.check === 'kube.rbac');
    expect(marks(rbac)).toEqual(['ok', 'fail', 'warn', 'warn', 'ok', 'warn', 'ok']);
    expect(rbac[1]!.text).toContain('missing update permission on secret "tailscale"');
    const role = ls.at(-1)!;
    expect(role.check).toBe('kube.role');
    expect(role.detail).toEqual([
      'apiVersion: rbac.authorization.k8s.io/v1', 'kind: Role', 'metadata:', '  name: tailscale', '  namespace: ns', 'rules:',
      '- {apiGroups: [""], resources: ["secrets"], resourceNames: ["tailscale"], verbs: ["update", "patch"]}',
      '- {apiGroups: [""], resources: ["secrets"], verbs: ["create"]}',
      '- {apiGroups: [""], resources: ["events"], verbs: ["create"]}',
      "# bind it to the pod's service account with a RoleBinding",
    ]);
  });

  it('patch is ✗ when the Secret holds an authkey; create is ✗ when the Secret is missing', () => {
    expect(kubeLines(kubeView, kube(['secrets/patch'], { exists: true, keys: ['authkey'] })).find((l) => l.text.startsWith('may not patch'))!.mark).toBe('fail');
    const ls = kubeLines(kubeView, kube(['secrets/create'], { exists: false, keys: [] }));
    expect(ls.find((l) => l.text.startsWith('may not create'))!.mark).toBe('fail');
    expect(ls.find((l) => l.check === 'kube.secret')!.mark).toBe('fail');
    expect(kubeLines(kubeView, kube([], { exists: false, keys: [] })).find((l) => l.check === 'kube.secret')!.mark).toBe('ok');
    expect(kubeLines(kubeView, kube([], { error: 'forbidden', status: 403 })).find((l) => l.check === 'kube.secret')!.mark).toBe('fail');
  });

  it('service account, URL and API failures stop the kube checks with one ✗', () => {
    expect(kubeLines(kubeView, { saDir: '/sa', reviews: [], serviceAccountError: 'reading service-account file /sa/namespace: no such file or directory' }))
      .toMatchObject([{ mark: 'fail', check: 'kube.serviceaccount' }]);
    expect(kubeLines(kubeView, { saDir: '/sa', namespace: 'ns', reviews: [], urlError: 'KUBERNETES_SERVICE_HOST is empty' }).at(-1)!.check).toBe('kube.api');
    const down = kube();
    down.reviews = down.reviews.map((r) => ({ resource: r.resource, verb: r.verb, name: r.name, error: 'POST https://10.0.0.1/x: connect ECONNREFUSED' }));
    expect(kubeLines(kubeView, down).at(-1)).toMatchObject({ mark: 'fail', check: 'kube.api', fix: expect.stringContaining('network path') });
    down.reviews = down.reviews.map((r) => ({ ...r, error: 'Unauthorized (401)' }));
    expect(kubeLines(kubeView, down).at(-1)!.text).toContain('rejected the service-account token');
    const partly = kube();
    partly.reviews[6] = { ...partly.reviews[6]!, allowed: undefined, error: 'timeout' };
    expect(kubeLines(kubeView, partly).find((l) => l.text.includes('review failed'))!.mark).toBe('warn');
  });

  it('roleSnippet with only Events', () => {
    expect(roleSnippet('a', [{ resource: 'events', verb: 'get', name: '' }]).filter((l) => l.startsWith('- '))).toEqual(['- {apiGroups: [""], resources: ["events"], verbs: ["get"]}']);
  });
});

describe('output', () => {
  it('one line per finding, the fix under each ✗, details indented, a summary, exit 1 on any ✗', () => {
    const ls: Line[] = [
      { check: 'a', mark: 'ok', text: 'fine' },
      { check: 'b', mark: 'warn', text: 'hmm' },
      { check: 'c', mark: 'fail', text: 'bad', fix: 'do x', detail: ['d1'] },
    ];
    expect(formatLines(ls)).toBe('✓ a: fine\n⚠ b: hmm\n✗ c: bad\n    fix: do x\n      d1\n1 failed, 1 warnings, 1 ok\n');
    expect(exitCode(ls)).toBe(1);
    expect(exitCode(ls.slice(0, 2))).toBe(0);
  });
});
