// `containerboot doctor` inside the built image, the way a user runs it next to a failing proxy
// (issue 13 item 3): same image, same env, no network. Read-only: the container's file system is
// unchanged afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Container, ensureImage, podman, removeAllContainers } from './podman.js';

let image: string;
beforeAll(() => { image = ensureImage(); }, 15 * 60_000);
afterAll(async () => { await removeAllContainers(); }, 60_000);

async function doctorIn(name: string, args: string[]): Promise<{ code: number | null; out: string; diff: string }> {
  const r = await podman(['run', '-d', '--name', name, '--network', 'none', ...args, image, 'doctor'], 30_000);
  expect(r.code, r.stderr).toBe(0);
  const c = new Container(name);
  const code = await c.waitExited();
  const out = await c.logs();
  // podman itself marks /etc changed (it writes hosts/resolv.conf), and any iptables listing takes
  // the xtables lock file; anything else doctor wrote would show here.
  const diff = (await podman(['diff', name])).stdout.split('\n').filter((l) => l !== '' && l !== 'C /etc' && l !== 'A /run/xtables.lock').join('\n');
  await c.remove();
  return { code, out, diff };
}

describe('containerboot doctor in the image', () => {
  it('userspace defaults: every check ✓, tailscaled/tailscale v1.102.3 found, exit 0, nothing written', async () => {
    const r = await doctorIn(`cbimg-doctor-ok-${process.pid}`, []);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('✓ config: valid (userspace networking)');
    expect(r.out).toMatch(/✓ tailscaled: \/usr\/local\/bin\/tailscaled 1\.102\.3/);
    expect(r.out).toMatch(/✓ tailscale: \/usr\/local\/bin\/tailscale 1\.102\.3/);
    expect(r.out).not.toContain('✗');
    expect(r.diff.trim(), 'doctor changed the container file system').toBe('');
  });

  it('kernel mode without NET_ADMIN or the tun device: ✗ with a fix for each, exit 1', async () => {
    const r = await doctorIn(`cbimg-doctor-kernel-${process.pid}`, ['-e', 'TS_USERSPACE=false', '-e', 'TS_DEST_IP=10.0.0.5', '--cap-drop', 'NET_ADMIN', '--cap-drop', 'NET_RAW']);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/^✗ tun: .*\n {4}fix: /m);
    expect(r.out).toMatch(/^✗ capabilities: .*\n {4}fix: /m);
    expect(r.diff.trim(), 'doctor changed the container file system').toBe('');
  });
});
