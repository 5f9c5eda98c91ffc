// As PID 1, collect orphaned zombies that were re-parented to us. Only processes we did not spawn
// ourselves are waited for (see children.ts), so exit statuses of our own children stay intact.
import { readdirSync, readFileSync } from 'node:fs';
import { isTrackedChild } from './children.js';
import { loadLibc, WNOHANG } from './libc.js';

/** Parses /proc/<pid>/stat: state letter and parent PID (comm may contain spaces and parens). */
export function parseProcStat(text: string): { state: string; ppid: number } | undefined {
  const end = text.lastIndexOf(')');
  if (end < 0) return undefined;
  const rest = text.slice(end + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]) };
}

export function findOrphanZombies(myPid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try { names = readdirSync('/proc'); } catch { return out; }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    let st;
    try { st = parseProcStat(readFileSync(`/proc/${n}/stat`, 'utf8')); } catch { continue; }
    if (st && st.state === 'Z' && st.ppid === myPid && !isTrackedChild(pid)) out.push(pid);
  }
  return out;
}

export class OrphanReaper {
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  reaped = 0;
  private readonly onChld = () => this.schedule();

  start(): void {
    process.on('SIGCHLD', this.onChld);
    // A safety net in case a SIGCHLD was coalesced while a scan ran.
    this.timer = setInterval(() => this.scan(), 10_000);
    this.timer.unref();
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = undefined; this.scan(); }, 20);
    this.pending.unref();
  }

  scan(): number {
    const zombies = findOrphanZombies(process.pid);
    if (zombies.length === 0) return 0;
    const libc = loadLibc();
    let n = 0;
    for (const pid of zombies) {
      if (isTrackedChild(pid)) continue;
      if (libc.waitpid(pid, null, WNOHANG) === pid) n++;
    }
    this.reaped += n;
    return n;
  }

  stop(): void {
    process.off('SIGCHLD', this.onChld);
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }
}
