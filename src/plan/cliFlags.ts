// Flag sets of the `tailscale` CLI v1.102.3 on Linux, used to route TS_EXTRA_ARGS tokens:
// flags `up` rejects but `set` accepts are applied with `tailscale set` after Running
// (fixes upstream #18795, #17791, #18437). Everything else goes to `up` as upstream does.

/** Flags only `tailscale set` defines; the value says whether the flag is boolean. */
export const SET_ONLY_FLAGS: ReadonlyMap<string, { bool: boolean }> = new Map([
  ['nickname', { bool: false }],
  ['update-check', { bool: true }],
  ['auto-update', { bool: true }],
  ['webclient', { bool: true }],
  ['sync', { bool: true }],
  ['relay-server-port', { bool: false }],
  ['relay-server-static-endpoints', { bool: false }],
]);

/** Non-boolean flags of `tailscale up`: their value may be the next token (`--hostname foo`). */
export const UP_VALUE_FLAGS: ReadonlySet<string> = new Set([
  'qr-format', 'auth-key', 'authkey', 'audience', 'client-id', 'client-secret', 'id-token', 'login-server',
  'exit-node', 'advertise-tags', 'hostname', 'advertise-routes', 'operator', 'netfilter-mode',
  'linux-fwmark-mask', 'linux-subnet-route-mark', 'linux-bypass-mark', 'timeout', 'accept-risk',
]);

export interface RoutedArgs {
  up: string[];
  set: string[];
}

/** Splits whitespace-separated TS_EXTRA_ARGS into tokens for `up` and tokens for `set`. */
export function routeExtraArgs(extraArgs: string): RoutedArgs {
  const tokens = extraArgs.split(/\s+/).filter((t) => t !== '');
  const up: string[] = [];
  const set: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    // Go's flag package stops at the first non-flag or at "--": the rest is positional.
    if (tok === '--' || !tok.startsWith('-') || tok === '-') { up.push(...tokens.slice(i)); break; }
    const body = tok.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const setOnly = SET_ONLY_FLAGS.get(name);
    const dest = setOnly ? set : up;
    dest.push(tok);
    const takesNext = eq < 0 && (setOnly ? !setOnly.bool : UP_VALUE_FLAGS.has(name));
    if (takesNext && i + 1 < tokens.length) dest.push(tokens[++i]);
  }
  return { up, set };
}
