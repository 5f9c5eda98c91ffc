// Upstream's log shape is an interface: `boot: YYYY/MM/DD HH:MM:SS <message>` on stderr.
// Black-box tests match lines by the `boot: ` prefix and the message suffix.
import { writeSync } from 'node:fs';

const secrets = new Set<string>();

/** Registers a value that must never appear in a log line or error message. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replaces every registered secret in `text` with `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Go's log.LstdFlags timestamp in local time. */
export function goTimestamp(d = new Date()): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export type LogSink = (line: string) => void;
let sink: LogSink = (line) => {
  // Synchronous so that lines written just before process.exit are not lost.
  try { writeSync(2, line); } catch { /* stderr closed: nothing sensible to do */ }
};

/** Tests can capture lines in-process. */
export function setLogSink(s: LogSink): void {
  sink = s;
}

export function log(message: string): void {
  sink(`boot: ${goTimestamp()} ${redact(message)}\n`);
}

/** Error text for logs: the message only (no stack), redacted. */
export function errText(err: unknown): string {
  if (err instanceof Error) return redact(err.message);
  return redact(String(err));
}

const RAW_SECRET_VARS = ['TS_AUTHKEY', 'TS_AUTH_KEY', 'TS_CLIENT_SECRET', 'TS_ID_TOKEN'] as const;

/**
 * Masks the secret variables' raw values, trimmed and as JSON-quoted text (errors quote values),
 * before anything parses them: a secret pasted into another variable (TS_BOOT_TIMEOUT=<the key>)
 * would otherwise be echoed by that variable's error. Used by boot and by `containerboot doctor`.
 */
export function registerRawSecrets(env: NodeJS.ProcessEnv): void {
  for (const k of RAW_SECRET_VARS) {
    const v = env[k];
    if (!v) continue;
    for (const form of [v, v.trim()]) {
      registerSecret(form);
      registerSecret(JSON.stringify(form).slice(1, -1));
    }
  }
}
