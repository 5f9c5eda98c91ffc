// `*_FILE` variants of the variables that carry a secret (an addition: upstream #14210, open PR
// #16091), for Docker/Kubernetes secrets mounted as files, e.g. TS_AUTHKEY_FILE=/run/secrets/ts_authkey.
// The file's content with one trailing newline trimmed is the value; the plain variable wins when
// both are set. Errors name the variable and the path, never the content.
import { closeSync, openSync, readSync } from 'node:fs';
import { registerSecret } from '../log.js';

export interface SecretSource {
  /** Plain variables, first non-empty wins (TS_AUTHKEY before TS_AUTH_KEY, as upstream). */
  plain: readonly string[];
  /** File variables, first non-empty wins. */
  files: readonly string[];
}

export const AUTH_KEY_SOURCE: SecretSource = { plain: ['TS_AUTHKEY', 'TS_AUTH_KEY'], files: ['TS_AUTHKEY_FILE', 'TS_AUTH_KEY_FILE'] };
export const CLIENT_SECRET_SOURCE: SecretSource = { plain: ['TS_CLIENT_SECRET'], files: ['TS_CLIENT_SECRET_FILE'] };
export const ID_TOKEN_SOURCE: SecretSource = { plain: ['TS_ID_TOKEN'], files: ['TS_ID_TOKEN_FILE'] };

/** A secret file bigger than this is a mistake (a wrong path, /dev/zero), not a key. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export interface ResolvedSecret {
  value: string;
  /** Configuration error (without the `invalid configuration: ` prefix). */
  error?: string;
  /** Informational line when both a plain and a file variable are set. */
  log?: string;
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted',
  EISDIR: 'is a directory', ENOTDIR: 'not a directory', ELOOP: 'too many levels of symbolic links',
};

/** Reads at most `limit + 1` bytes, so a device or a huge file cannot exhaust memory. */
export type SecretReader = (path: string, limit: number) => Buffer;

export const readBounded: SecretReader = (path, limit) => {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
};

type Env = Record<string, string | undefined>;

/** The secret's value from `src`'s variables in `env`; a value read from a file is registered for redaction. */
export function resolveSecret(env: Env, src: SecretSource, read: SecretReader = readBounded): ResolvedSecret {
  const plainName = src.plain.find((k) => (env[k] ?? '') !== '');
  const fileName = src.files.find((k) => (env[k] ?? '') !== '');
  if (plainName !== undefined) {
    const value = env[plainName]!;
    return fileName === undefined ? { value } : { value, log: `${plainName} and ${fileName} are both set; using ${plainName}` };
  }
  if (fileName === undefined) return { value: '' };
  const file = env[fileName]!;
  let raw: Buffer;
  try {
    raw = read(file, MAX_SECRET_FILE_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return { value: '', error: `error reading ${fileName}: open ${file}: ${ERRNO_TEXT[code] ?? (code || 'unknown error')}` };
  }
  if (raw.length > MAX_SECRET_FILE_BYTES) {
    return { value: '', error: `${fileName} file ${JSON.stringify(file)} is larger than ${MAX_SECRET_FILE_BYTES} bytes; expected only the secret` };
  }
  const text = raw.toString('utf8');
  const value = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (value === '') return { value: '', error: `${fileName} file ${JSON.stringify(file)} is empty` };
  registerSecret(value);
  return { value };
}
