// Child process of bench/kube.mjs: the kube module's own start-up cost, in isolation. Loads the
// bundled kube code, builds the client, runs setupKube and the boot reset against the fake API,
// and prints timings (ms since process start) and RSS as one JSON line.
import { performance } from 'node:perf_hooks';

const tStart = performance.now();
const { createKubeStateStore } = await import('../src/kube/store.js');
const tImported = performance.now();
const { setLogSink } = await import('../src/log.js');
setLogSink(() => {});

const env = process.env;
const settings = {
  inKubernetes: true, kubeSecret: 'tailscale', root: env.TS_TEST_ONLY_ROOT ?? '/', kubeReadAPIServerAddressFromEnv: false,
  kubernetesServiceHost: env.KUBERNETES_SERVICE_HOST ?? '', kubernetesServicePortHTTPS: env.KUBERNETES_SERVICE_PORT_HTTPS ?? '',
  podName: 'proxy-0', podUID: 'uid-1', authKey: 'tskey-bench', clientID: '', clientSecret: '', tailscaledConfigFilePath: '',
} as unknown as import('../src/settings/types.js').Settings;
const signal = new AbortController().signal;
const store = await createKubeStateStore(settings);
const tClient = performance.now();
const res = await store.setup(settings, signal);
const tSetup = performance.now();
if (res.canPatch) await store.resetState(settings, '', signal);
const tReset = performance.now();
store.close();
process.stdout.write(`${JSON.stringify({
  startMs: tStart, importMs: tImported, clientMs: tClient - tImported, setupMs: tSetup - tClient, resetMs: tReset - tSetup,
  readyMs: tReset, rssMB: process.memoryUsage().rss / 1048576,
})}\n`);
