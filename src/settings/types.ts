// Settings derived from the TS_* environment (spec §1). Pure data; built by settings/fromEnv.ts.

export interface Settings {
  authKey: string;
  clientID: string;
  clientSecret: string;
  idToken: string;
  audience: string;
  hostname: string;
  /** TS_LOGIN_SERVER (an addition, not upstream's): control server URL for `tailscale up`. */
  loginServer: string;
  /** undefined = TS_ROUTES unset; '' = set but empty (clears routes). */
  routes: string | undefined;
  proxyTargetIP: string;
  proxyTargetDNSName: string;
  tailnetTargetIP: string;
  tailnetTargetFQDN: string;
  /** TS_TAILSCALED_EXTRA_ARGS, whitespace-split. */
  daemonExtraArgs: string[];
  /** TS_EXTRA_ARGS after `--accept-dns` extraction, re-joined with single spaces. */
  extraArgs: string;
  inKubernetes: boolean;
  userspace: boolean;
  stateDir: string;
  /** undefined = unset (tri-state). */
  acceptDNS: boolean | undefined;
  kubeSecret: string;
  socksProxyAddr: string;
  httpProxyAddr: string;
  socket: string;
  authOnce: boolean;
  root: string;
  enableForwardingOptimizations: boolean;
  /** TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR */
  versionedConfigDir: string;
  /** Selected cap-N.hujson path in one-step mode, else ''. */
  tailscaledConfigFilePath: string;
  allowProxyingClusterTrafficViaIngress: boolean;
  podIP: string;
  podIPv4: string;
  podIPv6: string;
  podUID: string;
  podName: string;
  healthCheckAddrPort: string;
  localAddrPort: string;
  metricsEnabled: boolean;
  healthCheckEnabled: boolean;
  debugAddrPort: string;
  egressProxiesCfgPath: string;
  ingressProxiesCfgPath: string;
  serveConfigPath: string;
  /** '' | 'ro' | 'rw' */
  certShareMode: '' | 'ro' | 'rw';
  /** Boot timeout in milliseconds. */
  bootTimeoutMs: number;
  kubeReadAPIServerAddressFromEnv: boolean;
  kubernetesServiceHost: string;
  kubernetesServicePortHTTPS: string;
  testFakeNetfilter: boolean;
  /** TS_TEST_SLEEP_DURATION in ms, or undefined for production sleeps. */
  testSleepMs: number | undefined;
}

/** Lines to log after settings are built (warnings from parsing), in order. */
export interface SettingsResult {
  settings: Settings;
  logs: string[];
}

export const DEFAULT_SOCKET = '/tmp/tailscaled.sock';
export const CLI_DEFAULT_SOCKET = '/var/run/tailscale/tailscaled.sock';
export const DEFAULT_LOCAL_ADDR_PORT = '[::]:9002';
export const DEFAULT_BOOT_TIMEOUT_MS = 60_000;

export function isOneStepConfig(s: Settings): boolean {
  return s.tailscaledConfigFilePath !== '';
}

export function isTwoStepConfigAuthOnce(s: Settings): boolean {
  return !isOneStepConfig(s) && s.authOnce;
}

export function isTwoStepConfigAlwaysAuth(s: Settings): boolean {
  return !isOneStepConfig(s) && !s.authOnce;
}

export function isL3Proxy(s: Settings): boolean {
  return s.proxyTargetIP !== '' || s.proxyTargetDNSName !== '' || s.tailnetTargetIP !== '' ||
    s.tailnetTargetFQDN !== '' || s.allowProxyingClusterTrafficViaIngress ||
    s.egressProxiesCfgPath !== '' || s.ingressProxiesCfgPath !== '';
}

export function metricsEnabled(s: Settings): boolean {
  return s.localAddrPort !== '' && s.metricsEnabled;
}

export function localHealthEnabled(s: Settings): boolean {
  return s.localAddrPort !== '' && s.healthCheckEnabled;
}

/** Whether any listener serves /healthz (the deprecated health server or the local one). */
export function healthServed(s: Settings): boolean {
  return s.healthCheckAddrPort !== '' || localHealthEnabled(s);
}

export function egressPreshutdownEnabled(s: Settings): boolean {
  return s.localAddrPort !== '' && s.egressProxiesCfgPath !== '';
}
