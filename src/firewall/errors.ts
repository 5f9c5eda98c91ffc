// Typed firewall errors, so callers can tell bad input from kernel refusals without parsing text.

/** A desired rule was rejected before any kernel call (bad IP, port, protocol, family). */
export class InvalidRuleError extends Error {
  override name = 'InvalidRuleError';
}

export type KernelErrorCode = 'ENOENT' | 'EBUSY' | 'EEXIST' | 'EPERM' | 'EACCES' | 'EINVAL' | 'EAFNOSUPPORT' | 'EOPNOTSUPP' | 'UNKNOWN';

/** A batch was refused by the kernel or the backend tool; nothing of the batch was applied. */
export class FirewallApplyError extends Error {
  override name = 'FirewallApplyError';
  constructor(message: string, readonly code: KernelErrorCode, readonly detail = '') {
    super(message);
  }
}

const ERRNO_TEXT: [RegExp, KernelErrorCode][] = [
  [/No such file or directory/i, 'ENOENT'],
  [/Device or resource busy/i, 'EBUSY'],
  [/File exists/i, 'EEXIST'],
  [/Operation not permitted/i, 'EPERM'],
  [/Permission denied/i, 'EACCES'],
  [/Address family not supported|Protocol not supported/i, 'EAFNOSUPPORT'],
  [/Operation not supported/i, 'EOPNOTSUPP'],
  [/Invalid argument/i, 'EINVAL'],
];

/** Maps libnftables / iptables error text (errno strerror) to a code. */
export function codeFromText(text: string): KernelErrorCode {
  for (const [re, code] of ERRNO_TEXT) if (re.test(text)) return code;
  return 'UNKNOWN';
}
