// setupKube (spec §4.2): permissions, Secret existence and the Secret-stored auth key.
import { log, registerSecret } from '../log.js';
import { isOneStepConfig, type Settings } from '../settings/types.js';
import type { KubeSetupResult } from './facade.js';
import { permissionHint } from './explain.js';
import { doctorHint } from '../util/doctorHint.js';
import { MissingSecretPermissionsError, type SecretPermissions } from './permissions.js';
import { isNotFound } from './status.js';

export interface SetupDeps {
  checkSecretPermissions(signal: AbortSignal): Promise<SecretPermissions>;
  /** Decoded data, undefined for 404; other errors thrown. */
  getSecret(signal: AbortSignal): Promise<Record<string, string> | undefined>;
  namespace: string;
  /** The service account of the token in use, when the token says (only for the permission hint). */
  serviceAccount?(): { namespace: string; name: string } | undefined;
}

export async function setupKube(deps: SetupDeps, s: Settings, signal: AbortSignal): Promise<KubeSetupResult & { canCreate: boolean }> {
  let perms: SecretPermissions;
  try {
    perms = await deps.checkSecretPermissions(signal);
  } catch (err) {
    let msg = `some Kubernetes permissions are missing, please check your RBAC configuration: ${(err as Error).message}`;
    // Upstream's text, then (ours) the namespace and how to grant it; a second line after a list.
    if (err instanceof MissingSecretPermissionsError) {
      const hint = permissionHint([...err.missing, ...err.alsoDenied], deps.namespace, s.kubeSecret, deps.serviceAccount?.());
      msg += `${err.missing.length > 1 ? '\n' : '; '}${hint}${doctorHint('kube.rbac')}`;
    }
    throw new Error(msg);
  }
  const { canPatch, canCreate } = perms;
  let secret: Record<string, string> | undefined;
  try {
    secret = await deps.getSecret(signal);
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`getting Tailscale state Secret ${s.kubeSecret}: ${(err as Error).message}`);
  }
  if (secret === undefined && !canCreate) {
    throw new Error(`tailscale state Secret ${s.kubeSecret} does not exist and we don't have permissions to create it. ` +
      'If you intend to store tailscale state elsewhere than a Kubernetes Secret, you can explicitly set TS_KUBE_SECRET env var to an empty string. ' +
      'Else ensure that RBAC is set up that allows the service account associated with this installation to create Secrets.');
  }
  if (s.authKey !== '' || s.clientID !== '' || s.clientSecret !== '' || isOneStepConfig(s)) return { canPatch, canCreate };
  if (secret === undefined) {
    log('TS_AUTHKEY not provided and state Secret does not exist, login will be interactive if needed.');
    return { canPatch, canCreate };
  }
  let authKey: string | undefined;
  const stored = secret.authkey ?? '';
  if (stored !== '') {
    if (!canPatch) throw new Error("authkey found in TS_KUBE_SECRET, but the pod doesn't have patch permissions on the Secret to manage the authkey.");
    registerSecret(stored);
    authKey = stored;
  } else {
    // Upstream logs this after finding a key too (§10.2 item 8); we only log it when it is true.
    log('No authkey found in state Secret and TS_AUTHKEY not provided, login will be interactive if needed.');
  }
  return authKey === undefined ? { canPatch, canCreate } : { canPatch, canCreate, authKey };
}
