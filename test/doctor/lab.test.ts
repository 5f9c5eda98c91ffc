// The real `containerboot doctor` (the bundle, bin/containerboot) in network namespaces we create,
// in kernel mode: a namespace whose iptables-legacy already has rules (the backend mismatch of
// user-pains #4) and the same namespace with NET_ADMIN/NET_RAW dropped. The probes are read-only;
// the test checks that the rules and sysctls are exactly as before.
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, requireTools, sh } from '../firewall/helpers/netns.js';
import { CONTAINERBOOT, TAILSCALE, TAILSCALED, TOOLS_BIN, ensureBundle } from '../lab/tools.js';

describe('containerboot doctor in a lab network namespace (kernel mode)', () => {
  const lab = new Lab();
  let ns: string;
  let bin: string;
  beforeAll(async () => {
    await requireTools(['iptables-legacy', 'iptables-nft', 'ip6tables-nft', 'nft', 'ip', 'setpriv']);
    for (const t of [TAILSCALED, TAILSCALE]) {
      if (!existsSync(t)) throw new Error(`${t} is missing: run scripts/setup.sh (it builds the pinned tailscaled/tailscale)`);
    }
    ensureBundle();
    // `iptables` is iptables-nft here whatever the machine's alternatives say, so auto is deterministic.
    bin = mkdtempSync(path.join(tmpdir(), 'cbdoc-bin-'));
    for (const t of ['iptables', 'ip6tables']) {
      for (const suffix of ['', '-save', '-restore']) {
        const real = (await sh('sh', ['-c', `command -v ${t}-nft${suffix}`])).stdout.trim();
        symlinkSync(real, path.join(bin, `${t}${suffix}`));
      }
    }
    ns = await lab.netns('doc');
    // A new namespace may inherit forwarding = 1 (net.core.devconf_inherit_init_net, or another
    // test's host setting): start from 0 so the "boot sets it to 1" branch is the one seen.
    await lab.exec(ns, 'sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward && echo 0 > /proc/sys/net/ipv6/conf/all/forwarding']);
    await lab.exec(ns, 'iptables-legacy', ['-w', '-A', 'INPUT', '-s', '192.0.2.99/32', '-j', 'DROP']);
    await lab.exec(ns, 'iptables-legacy', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth9', '-j', 'MASQUERADE']);
  }, 120_000);
  afterAll(async () => {
    await lab.cleanup();
    if (bin) rmSync(bin, { recursive: true, force: true });
  }, 60_000);

  const env = () => [
    `PATH=${bin}:${TOOLS_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    'TS_USERSPACE=false', 'TS_DEST_IP=10.0.0.5', 'TS_DEBUG_FIREWALL_MODE=auto',
  ];
  const snapshot = async () => [
    (await lab.exec(ns, 'iptables-legacy-save', [])).stdout.replace(/^#.*\n/gm, ''),
    (await lab.exec(ns, 'nft', ['list', 'ruleset'])).stdout,
    (await lab.exec(ns, 'cat', ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'])).stdout,
    (await lab.exec(ns, 'ip', ['-6', 'rule', 'show'])).stdout,
  ];

  it('warns that iptables-legacy holds rules while auto would write through nftables, exits 0, changes nothing', async () => {
    const before = await snapshot();
    const r = await lab.exec(ns, 'env', ['-i', ...env(), CONTAINERBOOT, 'doctor'], { allowFail: true });
    const out = r.stdout;
    expect(r.code, out + r.stderr).toBe(0);
    expect(out).toContain('✓ config: valid (kernel networking)\n');
    expect(out).toContain('✓ capabilities: NET_ADMIN and NET_RAW are effective');
    expect(out).toContain('✓ forwarding: net.ipv4.ip_forward = 0, writable: boot sets it to 1 when needed\n');
    expect(out).toMatch(/✓ tailscaled: \S+\/tailscaled 1\.102\.3/);
    expect(out).toContain('✓ firewall.iptables-legacy: works (2 rules installed)\n');
    expect(out).toContain('✓ firewall.nftables: works (0 rules installed)\n');
    expect(out).toContain('✓ firewall.mode: boot would use nftables: TS_DEBUG_FIREWALL_MODE=auto: no rules in `iptables -S`/`ip6tables -S` or nftables, and nftables works\n');
    expect(out).toMatch(/^⚠ firewall\.mismatch: the host has 2 iptables-legacy rule\(s\) but boot would write through nf_tables \(nftables\).*#17854/m);
    expect(out).toMatch(/^ {4}fix: set TS_DEBUG_FIREWALL_MODE=iptables with `iptables` pointing at iptables-legacy/m);
    expect(out).toMatch(/\n0 failed, 1 warnings, \d+ ok\n$/);
    expect(await snapshot()).toEqual(before);
  });

  it('the default mode (iptables through iptables-nft) gets the same warning', async () => {
    const r = await lab.exec(ns, 'env', ['-i', ...env().filter((e) => !e.startsWith('TS_DEBUG_FIREWALL_MODE')), CONTAINERBOOT, 'doctor'], { allowFail: true });
    expect(r.stdout).toContain('✓ firewall.mode: boot would use iptables through iptables-nft: TS_DEBUG_FIREWALL_MODE is unset (default iptables); auto would pick nftables');
    expect(r.stdout).toMatch(/^⚠ firewall\.mismatch: the host has 2 iptables-legacy rule\(s\) but boot would write through nf_tables \(iptables-nft\)/m);
    expect(r.code).toBe(0);
  });

  it('a read-only /proc/sys (Docker\'s default): ✗ for each forwarding sysctl the routes need, EROFS from access()', async () => {
    const before = await snapshot();
    const cmd = ['env', '-i', ...env(), 'TS_ROUTES=10.0.0.0/24,fd00::/64', CONTAINERBOOT, 'doctor'].map((a) => `'${a}'`).join(' ');
    const r = await lab.exec(ns, 'unshare', ['-m', 'sh', '-c', `mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec ${cmd}`], { allowFail: true });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^✗ forwarding: net\.ipv4\.ip_forward = 0 and not writable \(EROFS .*\n {4}fix: `docker run --sysctl net\.ipv4\.ip_forward=1`/m);
    expect(r.stdout).toMatch(/^✗ forwarding: net\.ipv6\.conf\.all\.forwarding = 0 and not writable \(EROFS /m);
    expect(await snapshot()).toEqual(before);
  });

  it('without NET_ADMIN and NET_RAW: ✗ capabilities, ip_forward and firewall, with fixes, exit 1, nothing changed', async () => {
    const before = await snapshot();
    const drop = ['--inh-caps=-net_admin,-net_raw', '--bounding-set=-net_admin,-net_raw'];
    const r = await lab.exec(ns, 'setpriv', [...drop, 'env', '-i', ...env(), CONTAINERBOOT, 'doctor'], { allowFail: true });
    const out = r.stdout;
    expect(r.code, out + r.stderr).toBe(1);
    expect(out).toMatch(/^✗ capabilities: kernel mode needs NET_ADMIN and NET_RAW, not in CapEff [0-9a-f]{16}\n {4}fix: `docker run --cap-add=NET_ADMIN --cap-add=NET_RAW`/m);
    expect(out).toMatch(/^✗ forwarding: net\.ipv4\.ip_forward = 0 and not writable \(the kernel refuses ip_forward writes without CAP_NET_ADMIN\)\n {4}fix: `docker run --sysctl net\.ipv4\.ip_forward=1`/m);
    expect(out).toMatch(/^⚠ firewall\.nftables: does not work here: nftables: .*Operation not permitted/m);
    expect(out).toMatch(/^✗ firewall\.mode: boot would use iptables .*that backend does not work here\n {4}fix: /m);
    expect(await snapshot()).toEqual(before);
  });
});
