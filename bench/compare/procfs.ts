// Readings of another process from /proc: memory (VmRSS, RssAnon, VmHWM), CPU time (user+sys,
// with reaped children) and context switches (wake-ups). Missing process ⇒ NaN, never a throw.
import fs from 'node:fs';

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64

export interface Mem { rssMiB: number; anonMiB: number; hwmMiB: number }

function status(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

function field(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export function mem(pid: number): Mem {
  const s = status(pid);
  return { rssMiB: field(s, 'VmRSS') / 1024, anonMiB: field(s, 'RssAnon') / 1024, hwmMiB: field(s, 'VmHWM') / 1024 };
}

/** utime+stime+cutime+cstime in ms (children: those the process has waited for, e.g. the CLI runs). */
export function cpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid … utime is field 14 overall → index 11 here.
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return (ticks * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Voluntary + involuntary context switches summed over all threads (each one a wake-up or preemption). */
export function contextSwitches(pid: number): number {
  let total = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      total += field(s, 'voluntary_ctxt_switches') + field(s, 'nonvoluntary_ctxt_switches');
    }
  } catch {
    return NaN;
  }
  return total;
}
