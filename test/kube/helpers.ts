// Shared set-up for the kube tests: settings literals, a store against the fake API, log capture.
import { setLogSink } from '../../src/log.js';
import type { Settings } from '../../src/settings/types.js';
import { createKubeStateStore, type KubeSecretStore, type KubeStoreOptions } from '../../src/kube/store.js';
import type { FakeKubeApi } from '../support/fakeKubeApi.js';

// Quiet by default; tests that assert log lines call captureLogs().
setLogSink(() => {});

export function baseSettings(over: Partial<Settings> = {}): Settings {
  return {
    authKey: '', clientID: '', clientSecret: '', idToken: '', audience: '', hostname: '', loginServer: '', routes: undefined,
    proxyTargetIP: '', proxyTargetDNSName: '', tailnetTargetIP: '', tailnetTargetFQDN: '', daemonExtraArgs: [],
    extraArgs: '', inKubernetes: true, userspace: true, stateDir: '', acceptDNS: undefined, kubeSecret: 'tailscale',
    socksProxyAddr: '', httpProxyAddr: '', socket: '/tmp/tailscaled.sock', authOnce: false, root: '/',
    enableForwardingOptimizations: false, versionedConfigDir: '', tailscaledConfigFilePath: '',
    allowProxyingClusterTrafficViaIngress: false, podIP: '', podIPv4: '', podIPv6: '', podUID: '', podName: '',
    healthCheckAddrPort: '', localAddrPort: '[::]:9002', metricsEnabled: false, healthCheckEnabled: false,
    debugAddrPort: '', egressProxiesCfgPath: '', ingressProxiesCfgPath: '', serveConfigPath: '', certShareMode: '',
    bootTimeoutMs: 60_000, kubeReadAPIServerAddressFromEnv: false, kubernetesServiceHost: '', kubernetesServicePortHTTPS: '',
    testFakeNetfilter: false, testSleepMs: undefined,
    ...over,
  };
}

/** Settings pointing at a fake API server (TS_TEST_ONLY_ROOT ⇒ address from env). */
export function settingsFor(api: FakeKubeApi, over: Partial<Settings> = {}): Settings {
  return baseSettings({ root: api.root, kubernetesServiceHost: api.host, kubernetesServicePortHTTPS: String(api.port), ...over });
}

export function storeFor(api: FakeKubeApi, over: Partial<Settings> = {}, opts: KubeStoreOptions = {}): Promise<KubeSecretStore> {
  return createKubeStateStore(settingsFor(api, over), { requestTimeoutMs: 2_000, writeRetryBudgetMs: 3_000, ...opts });
}

/** Captures log messages (without the `boot: <timestamp> ` prefix). */
export function captureLogs(): string[] {
  const lines: string[] = [];
  setLogSink((line) => lines.push(line.replace(/^boot: \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').replace(/\n$/, '')));
  return lines;
}

export const never = new AbortController().signal;

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the promise to reject');
}
