// The Kubernetes steps of the boot: set-up and boot reset of the state Secret before tailscaled
// starts (§2.1 step 5), and the auth-key reissue request of one-step mode (§4.6).
import { errText, log, registerSecret } from '../log.js';
import type { KubeStateStore } from '../kube/facade.js';
import type { BootDeps } from './deps.js';
import { Fatal } from './state.js';

/** Sets up the Secret; returns it only when it is a writable state store (hasKubeStateStore). */
export async function setupKube(d: Pick<BootDeps, 's' | 'c' | 'lc'>, configAuthKey: string, boot: AbortSignal): Promise<KubeStateStore | undefined> {
  const { s, lc } = d;
  let kube: KubeStateStore;
  try {
    if (!d.c.createKube) throw new Error('Kubernetes support is not built in');
    kube = await d.c.createKube(s);
  } catch (e) {
    throw new Fatal(`error initializing kube client: ${errText(e)}`);
  }
  let stateStore: boolean;
  try {
    const r = await kube.setup(s, boot);
    if (r.authKey) { s.authKey = r.authKey; registerSecret(r.authKey); }
    stateStore = s.inKubernetes && r.canPatch && s.kubeSecret !== '';
  } catch (e) {
    if (lc.life.aborted) throw lc.life.reason;
    throw new Fatal(`error setting up for running on Kubernetes: ${errText(e)}`);
  }
  if (!stateStore) return undefined;
  try { await kube.resetState(s, configAuthKey, boot); } catch (e) {
    if (lc.life.aborted) throw lc.life.reason;
    throw new Fatal(`error clearing previous state from Secret: ${errText(e)}`);
  }
  return kube;
}

/** Waits for the operator to issue a new auth key into the Secret. */
export async function requestNewAuthKey(d: Pick<BootDeps, 's' | 'c' | 'lc' | 'client'>, kube: KubeStateStore | undefined, configAuthKey: string): Promise<void> {
  if (!d.c.reissueAuthKey || !kube) throw new Fatal('failed to get a reissued authkey: auth key reissue is not built in');
  try {
    await d.c.reissueAuthKey({ settings: d.s, client: d.client, kube, configAuthKey, signal: d.lc.life });
  } catch (e) {
    if (d.lc.life.aborted) throw d.lc.life.reason;
    throw new Fatal(`failed to get a reissued authkey: ${errText(e)}`);
  }
  log('Successfully received new auth key, restarting to apply configuration');
}
