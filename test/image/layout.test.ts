// The built image itself (no tailnet needed): upstream's paths, the entrypoint as PID 1 with no
// shell left, the firewall tools, the size budget, the HEALTHCHECK, bad input, and PID 1 reaping.
// Containers here run with `--network none`: nothing touches the host's network or firewall.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lab/lab.js';
import { REPO_ROOT } from '../lab/tools.js';
import { Container, ensureImage, podman, removeAllContainers } from './podman.js';

let image: string;
const SIZE_BUDGET = 220_000_000;

beforeAll(() => {
  image = ensureImage();
}, 15 * 60_000);
afterAll(async () => {
  await removeAllContainers();
}, 60_000);

/** Runs `sh -c script` in a throw-away container of the image (entrypoint replaced). */
async function shell(script: string): Promise<string> {
  const r = await podman(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', script]);
  if (r.code !== 0) throw new Error(`in the image: ${script}\nexit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function startIdle(): Promise<Container> {
  // No auth key and no network: containerboot starts tailscaled, which waits in NeedsLogin.
  const name = `cbimg-layout-${process.pid}-${Date.now()}`;
  const r = await podman(['run', '-d', '--name', name, '--network', 'none', image]);
  if (r.code !== 0) throw new Error(`podman run: ${r.stderr}`);
  const c = new Container(name);
  await waitFor('tailscaled in the container', async () => (await c.exec(['sh', '-c', 'cat /proc/[0-9]*/comm'])).stdout.includes('tailscaled'), 20_000);
  return c;
}

describe('the image', () => {
  it('has upstream’s entrypoint, paths and v1.102.3 binaries', async () => {
    expect(JSON.parse(await inspect('{{json .Config.Entrypoint}}'))).toEqual(['/usr/local/bin/containerboot']);
    const out = await shell([
      'readlink /tailscale/run.sh',
      'tailscaled --version | head -1',
      'tailscale version | head -1',
      'test -x /usr/local/bin/containerboot && echo entrypoint-executable',
    ].join('; '));
    const [runSh, tsd, ts, exe] = out.trim().split('\n');
    expect(runSh).toBe('/usr/local/bin/containerboot');
    expect(tsd).toBe('1.102.3');
    expect(ts).toBe('1.102.3');
    expect(exe).toBe('entrypoint-executable');
  });

  it('iptables/ip6tables are the legacy backend; iptables-nft, nft, libnftables, iproute2 and CA certificates are present', async () => {
    const out = await shell([
      'iptables --version', 'ip6tables --version', 'iptables-nft --version', 'ip6tables-nft --version',
      'nft --version', 'ip -V', 'ls /usr/lib/*-linux-gnu/libnftables.so.1', 'test -s /etc/ssl/certs/ca-certificates.crt && echo certs',
    ].join(' && '));
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^iptables v1\.8\.\d+ \(legacy\)$/);
    expect(lines[1]).toMatch(/^ip6tables v1\.8\.\d+ \(legacy\)$/);
    expect(lines[2]).toMatch(/\(nf_tables\)$/);
    expect(lines[3]).toMatch(/\(nf_tables\)$/);
    expect(lines[4]).toMatch(/^nftables v1\./);
    expect(lines[5]).toMatch(/^ip utility, iproute2-/);
    expect(lines[6]).toMatch(/libnftables\.so\.1$/);
    expect(lines[7]).toBe('certs');
  });

  it('carries nothing the program does not need: no npm, TypeScript, esbuild, vitest, source maps, apt lists', async () => {
    const out = await shell("find / -xdev \\( -name npm -o -name npx -o -name typescript -o -name esbuild -o -name vitest -o -name '*.map' -o -name '*.ts' \\) -print; ls /var/lib/apt/lists | wc -l; ls /usr/share/doc | wc -l; ls /usr/share/man 2>/dev/null | wc -l");
    const lines = out.trim().split('\n');
    expect(lines.slice(0, -3)).toEqual([]);
    expect(lines.slice(-3, -2)).toEqual(['0']);
  });

  it(`is within the size budget (${SIZE_BUDGET / 1e6} MB uncompressed)`, async () => {
    const size = Number(await inspect('{{.Size}}'));
    expect(size).toBeGreaterThan(50_000_000);
    expect(size).toBeLessThanOrEqual(SIZE_BUDGET);
  });

  it('the entrypoint needs nothing on PATH (the launcher execs Node by absolute path; no dirname, readlink or node looked up)', async () => {
    const r = await podman(['run', '--rm', '--network', 'none', '-e', 'PATH=/nonexistent', image, '--version'], 30_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^containerboot \d+\.\d+\.\d+\n {2}built to pair with tailscaled v1\.102\.3\b/);
  });

  it('HEALTHCHECK runs `containerboot health`', async () => {
    const hc = JSON.parse(await inspect('{{json .Config.Healthcheck}}'));
    expect(hc.Test).toEqual(['CMD', '/usr/local/bin/containerboot', 'health']);
  });

  it('bad input: exit 1 with the one-line `invalid configuration:` message, nothing started', async () => {
    // Detached, so the container's own output is read (podman prints its own warnings on stderr).
    const name = `cbimg-badinput-${process.pid}`;
    const r = await podman(['run', '-d', '--name', name, '--network', 'none', '-e', 'TS_BOOT_TIMEOUT=abc', image], 30_000);
    expect(r.code, r.stderr).toBe(0);
    const c = new Container(name);
    try {
      expect(await c.waitExited()).toBe(1);
      const lines = (await c.logs()).trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/invalid configuration: error parsing TS_BOOT_TIMEOUT value "abc": time: invalid duration "abc"$/);
      // Nothing started: no tailscaled, and no state or socket written in the (never mounted) file system.
      const diff = await podman(['diff', name]);
      expect(diff.stdout.split('\n').filter((l) => /tailscale/.test(l))).toEqual([]);
    } finally {
      await c.remove();
    }
  });
});

describe('a running container', () => {
  let c: Container;
  beforeAll(async () => { c = await startIdle(); }, 60_000);

  it('PID 1 is Node running containerboot, with no shell left (the launcher execs it)', async () => {
    // Every process but this exec's own shell and its children: pid, parent, executable.
    const r = await c.exec(['sh', '-c', 'tr "\\0" " " </proc/1/cmdline; echo; for p in /proc/[0-9]*; do pid=${p#/proc/}; ' +
      'pp=$(sed -n "s/^PPid:\\t//p" $p/status); [ "$pid" = $$ ] || [ "$pp" = $$ ] || echo "$pid $pp $(readlink $p/exe)"; done']);
    const [cmdline, ...procs] = r.stdout.trim().split('\n');
    // The launcher's V8 flags, the same as bin/containerboot's, then the bundle.
    const flags = fs.readFileSync(path.join(REPO_ROOT, 'bin/containerboot'), 'utf8').match(/^exec "\$node" (.*) "\$root/m)![1];
    expect(cmdline.trim()).toBe(`/usr/local/lib/containerboot/node ${flags} /usr/local/lib/containerboot/containerboot.cjs`);
    const ps = procs.map((l) => l.split(' ')).map(([pid, ppid, exe]) => ({ pid: Number(pid), ppid: Number(ppid), exe }));
    expect(ps.find((p) => p.pid === 1)?.exe).toBe('/usr/local/lib/containerboot/node');
    // tailscaled (and the `tailscale up` waiting for a login, the same binary) are PID 1's children.
    expect(ps.filter((p) => p.pid !== 1).map((p) => [p.ppid, p.exe])).toEqual(
      expect.arrayContaining([[1, '/usr/local/bin/tailscaled']]));
    expect(ps.filter((p) => p.pid !== 1).every((p) => p.ppid === 1 && p.exe === '/usr/local/bin/tailscaled'), JSON.stringify(ps)).toBe(true);
  });

  it("PID 1 runs with the launcher's malloc tunable; tailscaled gets the environment without it", async () => {
    const r = await c.exec(['sh', '-c', 'tr "\\0" "\\n" </proc/1/environ | grep -c "^GLIBC_TUNABLES=glibc.malloc.trim_threshold=0$"; ' +
      'for p in /proc/[0-9]*; do [ "$(readlink $p/exe)" = /usr/local/bin/tailscaled ] && { tr "\\0" "\\n" <$p/environ | grep -c -e "^GLIBC_TUNABLES=" -e "^CONTAINERBOOT_OWN_TUNABLES="; }; done; true']);
    const [pid1, ...daemons] = r.stdout.trim().split('\n');
    expect(pid1).toBe('1');
    expect(daemons.length).toBeGreaterThan(0);
    expect(daemons.every((n) => n === '0'), r.stdout).toBe(true);
  });

  it('the health check is unhealthy before Running, with the reason', async () => {
    const r = await c.exec(['/usr/local/bin/containerboot', 'health']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("unhealthy: tailscaled's BackendState is NeedsLogin, not Running");
    expect((await podman(['healthcheck', 'run', c.name])).code).not.toBe(0);
  });

  it('reaps a process orphaned inside the container (PID 1)', async () => {
    const r = await c.exec(['sh', '-c', 'sleep 2 & echo $!']);
    const pid = Number(r.stdout.trim());
    expect(pid).toBeGreaterThan(1);
    const status = await c.exec(['cat', `/proc/${pid}/status`]);
    expect(status.stdout, 'the orphan is re-parented to PID 1').toMatch(/^PPid:\t1$/m);
    // The orphan was re-parented to PID 1; once it exits, PID 1 must wait() it or a zombie stays.
    await waitFor(`orphan ${pid} reaped`, async () => (await c.exec(['cat', `/proc/${pid}/status`])).code !== 0, 10_000, 250);
  });

  afterAll(async () => { await c?.remove(); });
});

function inspect(format: string): Promise<string> {
  return podman(['image', 'inspect', '--format', format, image]).then((r) => {
    if (r.code !== 0) throw new Error(`podman image inspect ${image}: ${r.stderr}`);
    return r.stdout.trim();
  });
}
