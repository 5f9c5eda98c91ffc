// What the orchestrator needs from Kubernetes (spec §4). The real implementation lives in
// src/kube/ (state Secret over the API server); `noKube` is used when no Secret is configured.
import type { Settings } from '../settings/types.js';

export interface KubeSetupResult {
  /** Secret patch permission granted: together with a Secret name this is hasKubeStateStore. */
  canPatch: boolean;
  /** Auth key read from the Secret's `authkey` key, if any (only with patch permission). */
  authKey?: string;
}

export interface SecretData {
  /** Decoded (UTF-8) values by key; undefined when the Secret does not exist. */
  [key: string]: string;
}

export interface KubeStateStore {
  /** Permission checks and Secret existence/authkey lookup (§4.2). Throws with upstream's texts. */
  setup(settings: Settings, signal: AbortSignal): Promise<KubeSetupResult>;
  /** Boot reset (§4.4). `configAuthKey` is the one-step config file's AuthKey ('' if none). */
  resetState(settings: Settings, configAuthKey: string, signal: AbortSignal): Promise<void>;
  /** Strategic-merge `device_id`. */
  storeDeviceID(id: string, signal: AbortSignal): Promise<void>;
  /** Strategic-merge `device_fqdn` + `device_ips` in one patch. */
  storeDeviceEndpoints(fqdn: string, ips: string[], signal: AbortSignal): Promise<void>;
  /** JSON-patch remove /data/authkey (422 tolerated). */
  deleteAuthKey(signal: AbortSignal): Promise<void>;
  /** Shutdown consistent-state wait (§2.6 step 3); resolves when consistent, on 404, or on abort. */
  waitConsistentState(signal: AbortSignal): Promise<void>;
  /** Strategic-merge patch of arbitrary keys; null deletes. */
  patchKeys(data: Record<string, string | null>, signal: AbortSignal): Promise<void>;
  /** GET the Secret; undefined when it does not exist (404). */
  getSecret(signal: AbortSignal): Promise<SecretData | undefined>;
  /** JSON-patch `replace /data/<key>` with `value` (egress/ingress status); no GET first (store.ts). */
  replaceKey(key: string, value: string, signal: AbortSignal): Promise<void>;
  /** Whether Secret writes are possible (patch permission). */
  readonly canPatch: boolean;
}
