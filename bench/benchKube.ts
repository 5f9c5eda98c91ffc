// What the in-process HA egress benches share: the state store against the fake Kubernetes API
// (patch granted), and the config volume written the kubelet's way (test/kube/atomicWriter.ts).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createKubeStateStore } from '../src/kube/store.js';
import type { Settings } from '../src/settings/types.js';
import { startFakeKubeApi } from '../test/support/fakeKubeApi.js';
import { writeAtomically } from '../test/kube/atomicWriter.js';

/** A fake API server holding an empty `tailscale` Secret, and a store set up against it. */
export async function startBenchKube(podIPv4: string) {
  const api = await startFakeKubeApi({ secrets: { tailscale: {} } });
  const env = api.env;
  const settings = {
    inKubernetes: true, kubeSecret: 'tailscale', root: env.TS_TEST_ONLY_ROOT ?? api.root, kubeReadAPIServerAddressFromEnv: false,
    kubernetesServiceHost: env.KUBERNETES_SERVICE_HOST ?? '', kubernetesServicePortHTTPS: env.KUBERNETES_SERVICE_PORT_HTTPS ?? '',
    podName: 'proxy-0', podUID: 'uid-1', authKey: '', clientID: '', clientSecret: '', tailscaledConfigFilePath: '',
    podIPv4, podIPv6: '',
  } as unknown as Settings;
  const kube = await createKubeStateStore(settings);
  const setup = await kube.setup(settings, new AbortController().signal);
  if (!setup.canPatch) throw new Error('fake API did not grant patch');
  return { api, settings, kube };
}

/** A kubelet-style config directory and the function that publishes a new `egress-services` into it. */
export function egressConfigVolume(prefix: string): { dir: string; publish(text: string): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, publish: (text) => writeAtomically(dir, { 'egress-services': text }) };
}
