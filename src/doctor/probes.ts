// The doctor's only contact with the host: small read-only probes behind one interface (a fake
// in the tests). Programs run through a guard that lets only listing/version commands through,
// so shared firewall code cannot write (checkIPv6's test rule, HasIPV6NAT's modprobe) from here.
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensureLibnftables } from '../firewall/libnftables.js';
import { nftRuleCount } from '../firewall/create.js';
import { runProcess, type Runner } from '../firewall/spawn.js';
import { settingsErrors } from '../settings/errors.js';
import type { DeviceFact } from './facts.js';

export interface Probes {
  settingsErrors(env: NodeJS.ProcessEnv): string[];
  device(file: string): DeviceFact;
  readFile(file: string): { text: string } | { error: string };
  /** Why `file` is not writable (access(2) W_OK, nothing opened or written); undefined when it is. */
  writeError(file: string): string | undefined;
  exists(file: string): boolean;
  which(cmd: string): string | undefined;
  /** Read-only commands only (see readOnlyRunner). */
  run: Runner;
  /** Rules in the nftables ruleset (`list ruleset` through libnftables), or why it cannot be listed. */
  nftRules(): { rules: number } | { error: string };
}

const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Listing and version commands; everything else may change the host. */
export function isReadOnlyCommand(cmd: string, args: string[]): boolean {
  if (/^ip6?tables(-legacy|-nft)?$/.test(cmd)) {
    return same(args, ['-S']) || same(args, ['--version']) || (args.length === 3 && args[0] === '-t' && args[2] === '-S');
  }
  if (cmd === 'ip') return same(args, ['-6', 'rule', 'show']);
  if (cmd === 'tailscaled') return same(args, ['--version']);
  if (cmd === 'tailscale') return same(args, ['version']);
  return false;
}

export function readOnlyRunner(run: Runner): Runner {
  return (cmd, args, stdin) => isReadOnlyCommand(cmd, args)
    ? run(cmd, args, stdin)
    : Promise.resolve({ code: 126, stdout: '', stderr: `containerboot doctor: not running ${cmd} ${args.join(' ')} (it could change the host)` });
}

const errMsg = (e: unknown): string => {
  const x = e as NodeJS.ErrnoException;
  return x.code ? `${x.code} (${x.message.replace(/^[A-Z]+: /, '')})` : String((e as Error).message ?? e);
};

function device(file: string): DeviceFact {
  let st;
  try { st = statSync(file); } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? { kind: 'missing' } : { kind: 'error', error: errMsg(e) };
  }
  if (!st.isCharacterDevice()) return { kind: 'other', what: st.isDirectory() ? 'directory' : st.isFile() ? 'regular file' : 'non-character file' };
  // Linux dev_t: major bits 8–19, minor bits 0–7 and 20–31.
  const major = (st.rdev >> 8) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  // Opening /dev/net/tun creates nothing (an interface needs the TUNSETIFF ioctl); it is the
  // only way to see the device cgroup's verdict.
  try { closeSync(openSync(file, constants.O_RDWR)); } catch (e) { return { kind: 'char', major, minor, openError: errMsg(e) }; }
  return { kind: 'char', major, minor };
}

export function realProbes(env: NodeJS.ProcessEnv): Probes {
  return {
    settingsErrors,
    device,
    readFile(file) {
      try { return { text: readFileSync(file, 'utf8') }; } catch (e) { return { error: errMsg(e) }; }
    },
    writeError(file) {
      try { accessSync(file, constants.W_OK); return undefined; } catch (e) { return errMsg(e); }
    },
    exists: existsSync,
    which(cmd) {
      for (const dir of (env.PATH ?? '').split(':')) {
        if (!dir) continue;
        const p = path.join(dir, cmd);
        try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
      }
      return undefined;
    },
    run: readOnlyRunner(runProcess),
    nftRules() {
      try {
        ensureLibnftables();
        return { rules: nftRuleCount() };
      } catch (e) {
        return { error: (e as Error).message };
      }
    },
  };
}
