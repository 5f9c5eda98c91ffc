// Records the PIDs of every child this process spawns through node:child_process, so the PID-1
// orphan reaper never collects a child whose exit status libuv (and its caller) is waiting for
// (upstream #11893: a reaper that waited on all children broke iptables calls with ECHILD).
import { ChildProcess } from 'node:child_process';

const tracked = new Set<number>();
let installed = false;

export function trackSpawnedChildren(): void {
  if (installed) return;
  installed = true;
  const proto = ChildProcess.prototype as unknown as { spawn: (...a: unknown[]) => unknown };
  const orig = proto.spawn;
  proto.spawn = function (this: ChildProcess, ...args: unknown[]) {
    const r = orig.apply(this, args);
    const pid = this.pid;
    if (pid !== undefined) {
      tracked.add(pid);
      this.once('exit', () => tracked.delete(pid));
    }
    return r;
  };
}

export function isTrackedChild(pid: number): boolean {
  return tracked.has(pid);
}
