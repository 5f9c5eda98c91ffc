// The 27 validation rules of upstream's settings.validate(), in evaluation order (spec §1.5),
// followed by the checks this project adds (validateAdded.ts).
import { parseAddrPort } from '../util/netip.js';
import { validateConfigFile } from './configDir.js';
import { isOneStepConfig, type Settings } from './types.js';
import { addedValidationErrors } from './validateAdded.js';

export interface ValidationResult {
  /** The first failing rule's message (what boot reports). */
  error?: string;
  /** Every failing rule's message, in evaluation order (what `containerboot doctor` reports). */
  errors: string[];
  /** Warnings logged even when validation passes (TS_HEALTHCHECK_ADDR_PORT deprecation). */
  logs: string[];
}

function addrPortError(v: string): string | undefined {
  try { parseAddrPort(v); return undefined; } catch (e) { return (e as Error).message; }
}

export function validateSettings(s: Settings, bootTimeoutError?: string): ValidationResult {
  const logs: string[] = [];
  const errors: string[] = [];
  // Upstream returns at the first failing rule; every rule is evaluated here so that all errors
  // can be listed, and `error` is the first of them.
  const fail = (error: string): void => { errors.push(error); };
  const oneStep = isOneStepConfig(s);

  if (oneStep) {
    const e = validateConfigFile(s.tailscaledConfigFilePath);
    if (e) fail(e);
  }
  if (s.proxyTargetIP !== '' && s.userspace) fail('TS_DEST_IP is not supported with TS_USERSPACE');
  if (s.proxyTargetDNSName !== '' && s.userspace) fail('TS_EXPERIMENTAL_DEST_DNS_NAME is not supported with TS_USERSPACE');
  if (s.proxyTargetDNSName !== '' && s.proxyTargetIP !== '') fail('TS_EXPERIMENTAL_DEST_DNS_NAME and TS_DEST_IP cannot both be set');
  if (s.tailnetTargetIP !== '' && s.userspace) fail('TS_TAILNET_TARGET_IP is not supported with TS_USERSPACE');
  if (s.tailnetTargetFQDN !== '' && s.userspace) fail('TS_TAILNET_TARGET_FQDN is not supported with TS_USERSPACE');
  if (s.tailnetTargetFQDN !== '' && s.tailnetTargetIP !== '') fail('Both TS_TAILNET_TARGET_IP and TS_TAILNET_FQDN cannot be set');
  if (oneStep && (s.acceptDNS !== undefined || s.authKey !== '' || s.routes !== undefined || s.extraArgs !== '' ||
    s.hostname !== '' || s.clientID !== '' || s.clientSecret !== '' || s.idToken !== '' || s.audience !== '')) {
    fail('TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR cannot be set in combination with TS_HOSTNAME, TS_EXTRA_ARGS, TS_AUTHKEY, TS_ROUTES, TS_ACCEPT_DNS, TS_CLIENT_ID, TS_CLIENT_SECRET, TS_ID_TOKEN, TS_AUDIENCE.');
  }
  if (s.idToken !== '' && s.clientID === '') fail('TS_ID_TOKEN is set but TS_CLIENT_ID is not set');
  if (s.audience !== '' && s.clientID === '') fail('TS_AUDIENCE is set but TS_CLIENT_ID is not set');
  if (s.idToken !== '' && s.clientSecret !== '') fail('TS_ID_TOKEN and TS_CLIENT_SECRET cannot both be set');
  if (s.idToken !== '' && s.audience !== '') fail('TS_ID_TOKEN and TS_AUDIENCE cannot both be set');
  if (s.audience !== '' && s.clientSecret !== '') fail('TS_AUDIENCE and TS_CLIENT_SECRET cannot both be set');
  if (s.authKey !== '' && (s.clientID !== '' || s.clientSecret !== '' || s.idToken !== '' || s.audience !== '')) {
    fail('TS_AUTHKEY cannot be used with TS_CLIENT_ID, TS_CLIENT_SECRET, TS_ID_TOKEN, or TS_AUDIENCE.');
  }
  if (s.allowProxyingClusterTrafficViaIngress && s.userspace) fail('EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS is not supported in userspace mode');
  if (s.allowProxyingClusterTrafficViaIngress && s.serveConfigPath === '') fail('EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS is set but this is not a cluster ingress proxy');
  if (s.allowProxyingClusterTrafficViaIngress && s.podIP === '') fail('EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS is set but POD_IP is not set');
  if (s.enableForwardingOptimizations && s.userspace) fail('TS_EXPERIMENTAL_ENABLE_FORWARDING_OPTIMIZATIONS is not supported in userspace mode');
  if (s.healthCheckAddrPort !== '') {
    // Logged only where upstream would still get this far (it returns at the first failing rule).
    if (errors.length === 0) logs.push('[warning] TS_HEALTHCHECK_ADDR_PORT is deprecated and will be removed in 1.82.0. Please use TS_ENABLE_HEALTH_CHECK and optionally TS_LOCAL_ADDR_PORT instead.');
    const e = addrPortError(s.healthCheckAddrPort);
    if (e) fail(`error parsing TS_HEALTHCHECK_ADDR_PORT value ${JSON.stringify(s.healthCheckAddrPort)}: ${e}`);
  }
  if (s.metricsEnabled || s.healthCheckEnabled || s.egressProxiesCfgPath !== '') {
    const e = addrPortError(s.localAddrPort);
    if (e) fail(`error parsing TS_LOCAL_ADDR_PORT value ${JSON.stringify(s.localAddrPort)}: ${e}`);
  }
  if (s.debugAddrPort !== '') {
    const e = addrPortError(s.debugAddrPort);
    if (e) fail(`error parsing TS_DEBUG_ADDR_PORT value ${JSON.stringify(s.debugAddrPort)}: ${e}`);
  }
  if (s.healthCheckEnabled && s.healthCheckAddrPort !== '') {
    fail('TS_HEALTHCHECK_ADDR_PORT is deprecated and will be removed in 1.82.0, use TS_ENABLE_HEALTH_CHECK and optionally TS_LOCAL_ADDR_PORT');
  }
  if (s.egressProxiesCfgPath !== '' && !(s.inKubernetes && s.kubeSecret !== '')) fail('TS_EGRESS_PROXIES_CONFIG_PATH is only supported for Tailscale running on Kubernetes');
  if (s.ingressProxiesCfgPath !== '' && !(s.inKubernetes && s.kubeSecret !== '')) fail('TS_INGRESS_PROXIES_CONFIG_PATH is only supported for Tailscale running on Kubernetes');
  if (bootTimeoutError) fail(bootTimeoutError);
  for (const e of addedValidationErrors(s)) fail(e);
  return { error: errors[0], errors, logs };
}
