// Doctor output: one line per finding, ✓ / ⚠ / ✗, a fix under every ✗, optional detail blocks.

export type Mark = 'ok' | 'warn' | 'fail';

export interface Line {
  /** Stable check name, also quoted by boot errors (src/util/doctorHint.ts). */
  check: string;
  mark: Mark;
  text: string;
  /** Required for 'fail'; may be given for 'warn'. */
  fix?: string;
  /** Extra lines printed indented below (e.g. a Role snippet). */
  detail?: string[];
}

const SYMBOL: Record<Mark, string> = { ok: '✓', warn: '⚠', fail: '✗' };

export const ok = (check: string, text: string): Line => ({ check, mark: 'ok', text });
export const warn = (check: string, text: string, fix?: string): Line => ({ check, mark: 'warn', text, ...(fix ? { fix } : {}) });
export const fail = (check: string, text: string, fix: string): Line => ({ check, mark: 'fail', text, fix });

export function formatLines(lines: Line[]): string {
  let out = '';
  for (const l of lines) {
    out += `${SYMBOL[l.mark]} ${l.check}: ${l.text}\n`;
    if (l.fix) out += `    fix: ${l.fix}\n`;
    for (const d of l.detail ?? []) out += `      ${d}\n`;
  }
  const n = (m: Mark) => lines.filter((l) => l.mark === m).length;
  out += `${n('fail')} failed, ${n('warn')} warnings, ${n('ok')} ok\n`;
  return out;
}

/** 0 when nothing failed. */
export function exitCode(lines: Line[]): number {
  return lines.some((l) => l.mark === 'fail') ? 1 : 0;
}
