// Phase 3, login (§2.1 steps 9–13, §2.3–§2.5, §3.2): UDP GRO, bus watch #1, the socket symlink,
// `tailscale up` where the mode wants it, and the auth loop until tailscaled reports Running.
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { errText, log } from '../log.js';
import { MASK_BOOT, MASK_RUN, type BusWatch } from '../localapi/ipnbus.js';
import { hasLoginStateWarning } from '../localapi/notify.js';
import { upArgs } from '../plan/argv.js';
import { runTailscaleCLI } from '../proc/cli.js';
import { CLI_DEFAULT_SOCKET, isOneStepConfig, isTwoStepConfigAlwaysAuth, type Settings } from '../settings/types.js';
import { backendState, openWatch, readBus } from './bus.js';
import { runWatchFollowsLogin } from './postLogin.js';
import { watchDuringUp } from './upWatch.js';
import type { BootDeps } from './deps.js';
import { Fatal } from './state.js';

/** 'running': tailscaled is Running; 'reissue': one-step kube mode needs a new auth key. */
export type LoginOutcome = 'running' | 'reissue';

type LoginDeps = Pick<BootDeps, 's' | 'lc' | 'client' | 'tasks' | 'metrics'>;

/** Steps 9–11: UDP GRO, watch #1 (once it answers, tailscaled's backend is up), the socket symlink. */
export async function openLoginWatch(d: LoginDeps, boot: AbortSignal): Promise<BusWatch> {
  if (d.s.enableForwardingOptimizations) await enableUDPGRO(d, boot);
  const w = await openWatch(d, MASK_BOOT, boot);
  symlinkSocket(d.s);
  return w;
}

export interface LoginResult {
  outcome: LoginOutcome;
  /** Watch #3, opened during `tailscale up` when nothing runs between watches #2 and #3 (postLogin.ts). */
  runWatch?: Promise<BusWatch>;
}

/** Steps 12–13 on watch #1: `tailscale up` where the mode wants it, then the auth loop. */
export async function login(d: LoginDeps, watch: BusWatch, hasStateStore: boolean, boot: AbortSignal): Promise<LoginResult> {
  const { s } = d;
  let w = watch;
  let didLogin = false;
  if (isTwoStepConfigAlwaysAuth(s)) {
    w.close();
    const during = watchDuringUp(d, boot, runWatchFollowsLogin(s));
    try { await tailscaleUp(d, boot); } catch (e) {
      during.drop();
      throw e;
    }
    didLogin = true;
    const settled = await during.settle();
    if (settled) return { outcome: 'running', runWatch: settled.runWatch };
    w = await openWatch(d, MASK_RUN, boot);
  }
  for (;;) {
    const n = await readBus(d, w);
    if (isOneStepConfig(s) && hasStateStore && hasLoginStateWarning(n)) {
      log('Auth key failed to authenticate (may be expired or single-use), disconnecting from control and requesting new key from operator');
      w.close();
      return { outcome: 'reissue' };
    }
    const st = backendState(d, n);
    if (st === 'Running') break;
    if (st === 'NeedsLogin') {
      if (isOneStepConfig(s)) {
        if (hasStateStore) {
          log('Auth key missing or invalid (NeedsLogin state), disconnecting from control and requesting new key from operator');
          w.close();
          return { outcome: 'reissue' };
        }
        throw new Fatal('invalid state: tailscaled daemon started with a config file, but tailscale is not logged in: ensure you pass a valid auth key in the config file');
      }
      if (!didLogin) {
        w.close();
        await tailscaleUp(d, boot);
        didLogin = true;
        w = await openWatch(d, MASK_RUN, boot);
      }
    } else if (st === 'NeedsMachineAuth') {
      log('machine authorization required, please visit the admin panel');
    } else if (st !== undefined) {
      log(`tailscaled in state ${JSON.stringify(st)}, waiting`);
    }
  }
  w.close();
  return { outcome: 'running' };
}

async function enableUDPGRO(d: LoginDeps, boot: AbortSignal): Promise<void> {
  try {
    const r = await d.client.getJSON<{ Warning?: string }>('/localapi/v0/set-udp-gro-forwarding', boot);
    if (r?.Warning) log(`[unexpected] error enabling UDP GRO forwarding: ${r.Warning}`);
  } catch (e) {
    log(`[unexpected] error enabling UDP GRO forwarding: ${errText(e)}`);
  }
}

async function tailscaleUp(d: LoginDeps, boot: AbortSignal): Promise<void> {
  log("Running 'tailscale up'");
  try {
    await runTailscaleCLI(upArgs(d.s), boot);
  } catch (e) {
    if (d.lc.life.aborted) throw d.lc.life.reason;
    throw new Fatal(`failed to auth tailscale: failed to auth tailscale: tailscale up failed: ${errText(e)}`);
  }
}

const ERRNO_TEXT: Record<string, string> = {
  EEXIST: 'file exists', EACCES: 'permission denied', ENOENT: 'no such file or directory', EROFS: 'read-only file system', EPERM: 'operation not permitted',
};

/** Formats a failed syscall like Go's *os.LinkError / *PathError text. */
function goSyscallError(op: string, paths: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return `${op} ${paths}: ${ERRNO_TEXT[code] ?? errText(e)}`;
}

function symlinkSocket(s: Settings): void {
  if (s.socket === CLI_DEFAULT_SOCKET) return;
  try {
    mkdirSync(path.dirname(CLI_DEFAULT_SOCKET), { recursive: true, mode: 0o700 });
    symlinkSync(s.socket, CLI_DEFAULT_SOCKET);
  } catch (e) {
    log(`[warning] failed to symlink socket: ${goSyscallError('symlink', `${s.socket} ${CLI_DEFAULT_SOCKET}`, e)}\n\tTo interact with the Tailscale CLI please use \`tailscale --socket=${JSON.stringify(s.socket)}\``);
  }
}
