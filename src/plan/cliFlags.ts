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

/** One flag of TS_EXTRA_ARGS with its separate value token, if any; `name` undefined = positional rest. */
interface FlagTokens {
  name: string | undefined;
  setOnly: boolean;
  tokens: string[];
}

/** Walks whitespace-separated TS_EXTRA_ARGS the way Go's flag package reads them. */
function* flagTokens(extraArgs: string): Generator<FlagTokens> {
  const tokens = extraArgs.split(/\s+/).filter((t) => t !== '');
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    // Go's flag package stops at the first non-flag or at "--": the rest is positional.
    if (tok === '--' || !tok.startsWith('-') || tok === '-') { yield { name: undefined, setOnly: false, tokens: tokens.slice(i) }; return; }
    const body = tok.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const setOnly = SET_ONLY_FLAGS.get(name);
    const takesNext = eq < 0 && (setOnly ? !setOnly.bool : UP_VALUE_FLAGS.has(name));
    yield { name, setOnly: setOnly !== undefined, tokens: takesNext && i + 1 < tokens.length ? [tok, tokens[++i]] : [tok] };
  }
}

/** Splits whitespace-separated TS_EXTRA_ARGS into tokens for `up` and tokens for `set`. */
export function routeExtraArgs(extraArgs: string): RoutedArgs {
  const up: string[] = [];
  const set: string[] = [];
  for (const f of flagTokens(extraArgs)) (f.setOnly ? set : up).push(...f.tokens);
  return { up, set };
}

/** Whether TS_EXTRA_ARGS passes flag `name` (`--name`, `-name`, `--name=v` or `--name v`). */
export function extraArgsHaveFlag(extraArgs: string, name: string): boolean {
  for (const f of flagTokens(extraArgs)) if (f.name === name) return true;
  return false;
}
