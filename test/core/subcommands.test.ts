// The built bin/containerboot: `--version`, `help`, and Go's wording when tailscaled or tailscale
// is not on PATH (issue 12 item 4, issue 13 item 4).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, FAKE_BIN, REPO, Scenario } from '../support/harness.js';
import { execErrorText } from '../../src/proc/execError.js';

function run(...args: string[]) {
  return spawnSync(BIN, args, { encoding: 'utf8', env: { PATH: process.env.PATH } });
}

describe('containerboot --version', () => {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
  const pin = /^TAILSCALE_VERSION=(\S+)$/m.exec(readFileSync(path.join(REPO, 'scripts/install-go-tools.sh'), 'utf8'))![1];
  it('prints its own version (package.json) and the tailscaled pin it pairs with, exit 0', () => {
    for (const arg of ['--version', 'version']) {
      const r = run(arg);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`containerboot ${pkg}\n  built to pair with tailscaled ${pin} (capability version 142)\n`);
      expect(r.stderr).toBe('');
    }
    expect(pin).toBe('v1.102.3');
  });
});

describe('containerboot help', () => {
  it('lists every subcommand, exit 0, for help, --help and -h', () => {
    for (const arg of ['help', '--help', '-h']) {
      const r = run(arg);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: containerboot \[command\]\n/);
      for (const sub of ['health', 'doctor', 'help', '--version']) expect(r.stdout).toMatch(new RegExp(`^  ${sub} +\\S`, 'm'));
    }
  });
});

describe('tailscaled or tailscale missing from PATH', () => {
  let scn: Scenario | undefined;
  let bin: string | undefined;
  afterEach(async () => { await scn?.cleanup(); scn = undefined; if (bin) rmSync(bin, { recursive: true, force: true }); bin = undefined; });

  /** A PATH holding only what bin/containerboot's wrapper and the fakes need, plus `progs` from FAKE_BIN. */
  function pathWith(progs: string[]): string {
    bin = mkdtempSync(path.join(tmpdir(), 'cb-path-'));
    for (const tool of ['dirname', 'readlink']) symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
    symlinkSync(process.execPath, path.join(bin, 'node'));
    for (const p of progs) symlinkSync(path.join(FAKE_BIN, p), path.join(bin, p));
    return bin;
  }

  it('tailscaled: upstream\'s `exec: "tailscaled": executable file not found in $PATH`, exit 1', async () => {
    scn = new Scenario({ env: { TS_AUTHKEY: 'k', PATH: pathWith([]) } });
    await scn.start();
    expect((await scn.waitExit()).code).toBe(1);
    expect(scn.hasLog('failed to bring up tailscale: starting tailscaled failed: exec: "tailscaled": executable file not found in $PATH')).toBe(true);
    expect(scn.lines.join('\n')).not.toContain('ENOENT');
  });

  it('tailscale: `tailscale up failed: exec: "tailscale": executable file not found in $PATH`, exit 1', async () => {
    scn = new Scenario({ env: { TS_AUTHKEY: 'k', PATH: pathWith(['tailscaled']) } });
    await scn.start();
    expect((await scn.waitExit()).code).toBe(1);
    expect(scn.hasLog('failed to auth tailscale: failed to auth tailscale: tailscale up failed: exec: "tailscale": executable file not found in $PATH')).toBe(true);
    expect(scn.lines.join('\n')).not.toContain('ENOENT');
  });

  it('maps the errno codes Node reports and passes others through', () => {
    const e = (code: string, message = `spawn x ${code}`) => Object.assign(new Error(message), { code });
    expect(execErrorText('tailscale', e('EACCES'))).toBe('exec: "tailscale": permission denied');
    expect(execErrorText('tailscale', e('E2BIG', 'spawn E2BIG'))).toBe('spawn E2BIG');
  });
});
