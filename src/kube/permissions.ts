// SelfSubjectAccessReview checks (spec §4.1 events probe, §4.2 step 1).
import { errText, log } from '../log.js';
import type { KubeClient } from './client.js';
import { SSAR_PATH, ssarBody } from './secretBodies.js';

interface SSARResponse {
  status?: { allowed?: boolean };
}

export async function checkPermission(client: KubeClient, namespace: string, resource: string, verb: string, name: string, signal?: AbortSignal): Promise<boolean> {
  const res = await client.request<SSARResponse>({ method: 'POST', path: SSAR_PATH, body: ssarBody(namespace, resource, verb, name), signal });
  return res?.status?.allowed === true;
}

export interface SecretPermissions {
  canPatch: boolean;
  canCreate: boolean;
}

/** Required verbs (get, update) the authorizer denied; `alsoDenied` are probed verbs (patch) it denied too. */
export class MissingSecretPermissionsError extends Error {
  constructor(message: string, readonly missing: string[], readonly alsoDenied: string[]) {
    super(message);
  }
}

/**
 * get and update are required (a denial is an error; a failed check is only logged, as upstream);
 * patch and create are probed, a failed probe counting as "not allowed". The four reviews are
 * independent, so they are queued together rather than awaited one by one.
 */
export async function checkSecretPermissions(client: KubeClient, namespace: string, secret: string, signal?: AbortSignal): Promise<SecretPermissions> {
  const verbs = ['get', 'update', 'patch', 'create'] as const;
  const results = await Promise.allSettled(verbs.map((v) => checkPermission(client, namespace, 'secrets', v, secret, signal)));
  const missing: string[] = [];
  for (const i of [0, 1]) {
    const r = results[i]!;
    if (r.status === 'rejected') log(`error checking ${verbs[i]} permission on secret ${secret}: ${errText(r.reason)}`);
    else if (!r.value) missing.push(`missing ${verbs[i]} permission on secret ${JSON.stringify(secret)}`);
  }
  const [patch, create] = [results[2]!, results[3]!];
  if (missing.length > 0) {
    const denied = verbs.filter((_, i) => i < 2 && results[i]!.status === 'fulfilled' && !(results[i] as PromiseFulfilledResult<boolean>).value);
    const alsoDenied = patch.status === 'fulfilled' && !patch.value ? ['patch'] : [];
    const text = missing.length === 1 ? missing[0]! : `multiple errors:${missing.map((m) => `\n\t${m}`).join('')}`;
    throw new MissingSecretPermissionsError(text, [...denied], alsoDenied);
  }
  for (const [i, r] of [[2, patch], [3, create]] as const) {
    if (r.status === 'rejected') {
      log(`error checking ${verbs[i]} permission on secret ${secret}: ${errText(r.reason)}`);
      return { canPatch: false, canCreate: false };
    }
  }
  return { canPatch: (patch as PromiseFulfilledResult<boolean>).value, canCreate: (create as PromiseFulfilledResult<boolean>).value };
}

export const EVENTS_NOTICE = 'kubeclient: this client is not able to write tailscaled Events to the Pod in which it is running.\n' +
  '\t\t\tTo help with future debugging you can make it able write Events by giving it get,create,patch permissions for Events in the Pod namespace\n' +
  '\t\t\tand setting POD_NAME, POD_UID env vars for the Pod.';

/**
 * Upstream's client probes Events permissions at construction and logs a notice when it could not
 * write Events. containerboot never writes Events itself; the notice is kept because users see it.
 */
export async function probeEventPermissions(client: KubeClient, namespace: string, podName: string, podUID: string, signal?: AbortSignal): Promise<boolean> {
  let ok = false;
  if (podName !== '' && podUID !== '') {
    const results = await Promise.allSettled(['get', 'create', 'patch'].map((v) => checkPermission(client, namespace, 'events', v, '', signal)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) log(`kubeclient: error checking Events permissions: ${errText((failed as PromiseRejectedResult).reason)}`);
    else ok = results.every((r) => (r as PromiseFulfilledResult<boolean>).value);
  }
  if (!ok) log(EVENTS_NOTICE);
  return ok;
}
