// Builds Settings from the environment with upstream's exact parsing (spec §1.2–§1.4).
import { parseAddr } from '../util/netip.js';
import { extractAcceptDNS } from './acceptDns.js';
import { selectConfigFile, ConfigDirError } from './configDir.js';
import { fields, lenientBool, orDefault, parseGoDuration, triStateBool } from './parse.js';
import {
  DEFAULT_BOOT_TIMEOUT_MS, DEFAULT_LOCAL_ADDR_PORT, DEFAULT_SOCKET, type Settings, type SettingsResult,
} from './types.js';
import { validateSettings } from './validate.js';
import { AUTH_KEY_SOURCE, CLIENT_SECRET_SOURCE, ID_TOKEN_SOURCE, resolveSecret, type SecretSource } from './secretFiles.js';
import { extraArgsHaveFlag } from '../plan/cliFlags.js';

/** A configuration error; `message` is the complete line to log before exiting 1. */
export class SettingsError extends Error {
  /** Lines boot logs before the error (warnings from parsing). */
  logs?: string[];
}

type Env = Record<string, string | undefined>;

/** Configuration errors: boot stops at the first (thrown), `containerboot doctor` lists them all. */
export class ErrorCollector {
  readonly errors: string[] = [];
  constructor(private readonly all: boolean) {}

  /** `line` is the complete message boot logs before exiting 1. */
  add(line: string, logs?: string[]): void {
    if (this.all) { this.errors.push(line); return; }
    const err = new SettingsError(line);
    if (logs) err.logs = logs;
    throw err;
  }
}

/** Settings for boot; throws SettingsError with the first configuration error. */
export function settingsFromEnv(env: Env): SettingsResult {
  return buildSettings(env, new ErrorCollector(false));
}

/** Builds settings, reporting every configuration error to `errs` (which may throw at the first). */
export function buildSettings(env: Env, errs: ErrorCollector): SettingsResult {
  const logs: string[] = [];
  const get = (k: string) => env[k] ?? '';
  const inKubernetes = get('KUBERNETES_SERVICE_HOST') !== '';

  let configFile = '';
  const versionedDir = get('TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR');
  if (versionedDir !== '') {
    try {
      const sel = selectConfigFile(versionedDir);
      configFile = sel.path;
      logs.push(...sel.logs);
    } catch (e) {
      // Deliberate (R1): the message names the variable; upstream's text follows unchanged.
      if (e instanceof ConfigDirError) errs.add(`TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR: ${e.message}`);
      else throw e;
    }
  }
  const secret = (src: SecretSource): string => {
    const r = resolveSecret(env, src);
    if (r.log) logs.push(r.log);
    if (r.error) errs.add(`invalid configuration: ${r.error}`);
    return r.value;
  };

  const s: Settings = {
    authKey: secret(AUTH_KEY_SOURCE),
    clientID: get('TS_CLIENT_ID'),
    clientSecret: secret(CLIENT_SECRET_SOURCE),
    idToken: secret(ID_TOKEN_SOURCE),
    audience: get('TS_AUDIENCE'),
    hostname: get('TS_HOSTNAME'),
    loginServer: get('TS_LOGIN_SERVER'),
    routes: env.TS_ROUTES,
    proxyTargetIP: get('TS_DEST_IP'),
    proxyTargetDNSName: get('TS_EXPERIMENTAL_DEST_DNS_NAME'),
    tailnetTargetIP: get('TS_TAILNET_TARGET_IP'),
    tailnetTargetFQDN: get('TS_TAILNET_TARGET_FQDN'),
    daemonExtraArgs: fields(env.TS_TAILSCALED_EXTRA_ARGS),
    extraArgs: get('TS_EXTRA_ARGS'),
    inKubernetes,
    userspace: lenientBool(env.TS_USERSPACE, true),
    stateDir: get('TS_STATE_DIR'),
    acceptDNS: triStateBool(env.TS_ACCEPT_DNS),
    kubeSecret: inKubernetes ? (env.TS_KUBE_SECRET ?? 'tailscale') : get('TS_KUBE_SECRET'),
    socksProxyAddr: get('TS_SOCKS5_SERVER'),
    httpProxyAddr: get('TS_OUTBOUND_HTTP_PROXY_LISTEN'),
    socket: orDefault(env.TS_SOCKET, DEFAULT_SOCKET),
    authOnce: lenientBool(env.TS_AUTH_ONCE, false),
    root: orDefault(env.TS_TEST_ONLY_ROOT, '/'),
    enableForwardingOptimizations: lenientBool(env.TS_EXPERIMENTAL_ENABLE_FORWARDING_OPTIMIZATIONS, false),
    versionedConfigDir: versionedDir,
    tailscaledConfigFilePath: configFile,
    allowProxyingClusterTrafficViaIngress: lenientBool(env.EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS, false),
    podIP: get('POD_IP'),
    podIPv4: '',
    podIPv6: '',
    podUID: get('POD_UID'),
    podName: get('POD_NAME'),
    healthCheckAddrPort: get('TS_HEALTHCHECK_ADDR_PORT'),
    localAddrPort: orDefault(env.TS_LOCAL_ADDR_PORT, DEFAULT_LOCAL_ADDR_PORT),
    metricsEnabled: lenientBool(env.TS_ENABLE_METRICS, false),
    healthCheckEnabled: lenientBool(env.TS_ENABLE_HEALTH_CHECK, false),
    debugAddrPort: get('TS_DEBUG_ADDR_PORT'),
    egressProxiesCfgPath: get('TS_EGRESS_PROXIES_CONFIG_PATH'),
    ingressProxiesCfgPath: get('TS_INGRESS_PROXIES_CONFIG_PATH'),
    serveConfigPath: get('TS_SERVE_CONFIG'),
    certShareMode: '',
    bootTimeoutMs: DEFAULT_BOOT_TIMEOUT_MS,
    kubeReadAPIServerAddressFromEnv: get('TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV') === 'true',
    kubernetesServiceHost: get('KUBERNETES_SERVICE_HOST'),
    kubernetesServicePortHTTPS: get('KUBERNETES_SERVICE_PORT_HTTPS'),
    testFakeNetfilter: lenientBool(env.TS_TEST_FAKE_NETFILTER, false),
    testSleepMs: undefined,
  };

  // POD_IPS: set-vs-unset; at most one address per family wins (later overwrite earlier).
  if (env.POD_IPS !== undefined) {
    const ips = env.POD_IPS.split(',');
    if (ips.length > 2) {
      errs.add(`invalid configuration: POD_IPs can contain at most 2 IPs, got ${ips.length} ([${ips.join(' ')}])`);
    } else {
      for (const ip of ips) {
        let a;
        try { a = parseAddr(ip); } catch (e) {
          errs.add(`invalid configuration: POD_IPS: error parsing IP address ${ip}: ${(e as Error).message}`);
          continue;
        }
        if (a.family === 4) s.podIPv4 = a.text; else s.podIPv6 = a.text;
      }
    }
  }

  if (lenientBool(env.TS_EXPERIMENTAL_CERT_SHARE, false)) s.certShareMode = s.podName.endsWith('-0') ? 'rw' : 'ro';

  const dns = extractAcceptDNS(s.extraArgs, s.acceptDNS);
  s.extraArgs = dns.extraArgs;
  s.acceptDNS = dns.acceptDNS;
  logs.push(...dns.logs);
  if (s.loginServer !== '' && extraArgsHaveFlag(s.extraArgs, 'login-server')) {
    logs.push('[warning] TS_EXTRA_ARGS contains --login-server, which overrides TS_LOGIN_SERVER; using the TS_EXTRA_ARGS value');
  }

  if (s.podIPv6 !== '' && s.localAddrPort.includes(s.podIPv6) && !s.localAddrPort.includes('[') && !s.localAddrPort.includes(']')) {
    s.localAddrPort = s.localAddrPort.replace(s.podIPv6, `[${s.podIPv6}]`);
  }

  const bt = get('TS_BOOT_TIMEOUT');
  let bootTimeoutError: string | undefined;
  if (bt !== '') {
    try { s.bootTimeoutMs = parseGoDuration(bt); } catch (e) {
      bootTimeoutError = `error parsing TS_BOOT_TIMEOUT value ${JSON.stringify(bt)}: ${(e as Error).message}`;
    }
  }
  const sleep = get('TS_TEST_SLEEP_DURATION');
  if (sleep !== '') {
    try { s.testSleepMs = parseGoDuration(sleep); } catch (e) {
      errs.add(`invalid configuration: error parsing TS_TEST_SLEEP_DURATION value ${JSON.stringify(sleep)}: ${(e as Error).message}`);
    }
  }

  const v = validateSettings(s, bootTimeoutError);
  logs.push(...v.logs);
  for (const e of v.errors) errs.add(`invalid configuration: ${e}`, logs);
  return { settings: s, logs };
}
