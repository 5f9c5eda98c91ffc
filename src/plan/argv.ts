// argv for tailscaled, `tailscale up` and `tailscale set`, byte-identical to upstream (spec §2.2–§2.4).
import { isOneStepConfig, type Settings } from '../settings/types.js';
import { extraArgsHaveFlag, routeExtraArgs } from './cliFlags.js';

export function tailscaledArgs(s: Settings): string[] {
  const args = [`--socket=${s.socket}`];
  if (s.kubeSecret !== '') {
    args.push(`--state=kube:${s.kubeSecret}`, `--statedir=${s.stateDir || '/tmp'}`);
  } else if (s.stateDir !== '') {
    args.push(`--statedir=${s.stateDir}`);
  } else {
    args.push('--state=mem:', '--statedir=/tmp');
  }
  if (s.userspace) args.push('--tun=userspace-networking');
  if (s.socksProxyAddr !== '') args.push(`--socks5-server=${s.socksProxyAddr}`);
  if (s.httpProxyAddr !== '') args.push(`--outbound-http-proxy-listen=${s.httpProxyAddr}`);
  if (isOneStepConfig(s)) args.push(`--config=${s.tailscaledConfigFilePath}`);
  if (s.debugAddrPort !== '' && !s.daemonExtraArgs.join(' ').includes(s.debugAddrPort)) args.push(`--debug=${s.debugAddrPort}`);
  args.push(...s.daemonExtraArgs);
  return args;
}

export function upArgs(s: Settings): string[] {
  const args = [`--socket=${s.socket}`, 'up', `--accept-dns=${s.acceptDNS === true}`];
  if (s.authKey !== '') args.push(`--authkey=${s.authKey}`);
  if (s.clientID !== '') args.push(`--client-id=${s.clientID}`);
  if (s.clientSecret !== '') args.push(`--client-secret=${s.clientSecret}`);
  if (s.idToken !== '') args.push(`--id-token=${s.idToken}`);
  if (s.audience !== '') args.push(`--audience=${s.audience}`);
  if (s.routes !== undefined) args.push(`--advertise-routes=${s.routes}`);
  if (s.hostname !== '') args.push(`--hostname=${s.hostname}`);
  // TS_LOGIN_SERVER (an addition): after upstream's own flags, before TS_EXTRA_ARGS; a
  // --login-server in TS_EXTRA_ARGS wins and this one is left out (README, COMPATIBILITY.md).
  if (s.loginServer !== '' && !extraArgsHaveFlag(s.extraArgs, 'login-server')) args.push(`--login-server=${s.loginServer}`);
  args.push(...routeExtraArgs(s.extraArgs).up);
  return args;
}

/** auth-once mode's `set`, plus any set-only TS_EXTRA_ARGS flags. */
export function setArgs(s: Settings): string[] {
  const args = [`--socket=${s.socket}`, 'set', `--accept-dns=${s.acceptDNS === true}`];
  if (s.routes !== undefined) args.push(`--advertise-routes=${s.routes}`);
  if (s.hostname !== '') args.push(`--hostname=${s.hostname}`);
  args.push(...routeExtraArgs(s.extraArgs).set);
  return args;
}

/** always-auth mode: a `set` only for set-only TS_EXTRA_ARGS flags, or undefined if there are none. */
export function setOnlyFlagsArgs(s: Settings): string[] | undefined {
  const set = routeExtraArgs(s.extraArgs).set;
  return set.length > 0 ? [`--socket=${s.socket}`, 'set', ...set] : undefined;
}

/**
 * Environment added to tailscaled's (inherited) one. tailscaled's own kubestore joins
 * KUBERNETES_SERVICE_HOST and the port without brackets, so an IPv6 host (an IPv6-only cluster)
 * makes it fail with `invalid port` (seen on the real cluster): it gets the bracketed form,
 * which its URL parser accepts (COMPATIBILITY K1).
 */
export function tailscaledEnv(s: Settings): Record<string, string> {
  const env: Record<string, string> = {};
  if (s.certShareMode) env.TS_CERT_SHARE_MODE = s.certShareMode;
  const host = s.kubernetesServiceHost;
  if (s.kubeSecret !== '' && host.includes(':') && !host.startsWith('[')) env.KUBERNETES_SERVICE_HOST = `[${host}]`;
  return env;
}
