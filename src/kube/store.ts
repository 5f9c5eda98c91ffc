// The state Secret as the orchestrator sees it (KubeStateStore, facade.ts), over KubeClient.
import { errText, log } from '../log.js';
import type { Settings } from '../settings/types.js';
import { KubeClient } from './client.js';
import { consistencyBackoffMs, isConsistentState } from './consistency.js';
import { explainSecretError, tokenServiceAccount } from './explain.js';
import type { KubeSetupResult, KubeStateStore, SecretData } from './facade.js';
import { apiServerURL, readServiceAccount, TokenSource } from './inCluster.js';
import { checkSecretPermissions, probeEventPermissions } from './permissions.js';
import { resetData } from './reset.js';
import { DEFAULT_WRITE_RETRY_BUDGET_MS, withRetry } from './retry.js';
import {
  decodeData, deviceIPsValue, FIELD_MANAGER, JSON_PATCH, removeKeyPatch, replaceKeyPatch, secretPath,
  STRATEGIC_MERGE, strategicMergeBody,
} from './secretBodies.js';
import { setupKube } from './setup.js';
import { doctorHint } from '../util/doctorHint.js';
import { sleep } from '../util/sleep.js';
import { isDenied, isInvalid, isNotFound, isTransient, KubeAPIError } from './status.js';

export interface KubeStoreOptions {
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** How long device-info writes keep retrying transient errors (default 30 s). */
  writeRetryBudgetMs?: number;
  /** Test hook for the consistency backoff. */
  random?: () => number;
}

interface SecretObject {
  data?: Record<string, string> | null;
}

export class KubeSecretStore implements KubeStateStore {
  canPatch = false;
  private readonly path: string;

  constructor(
    readonly client: KubeClient,
    readonly namespace: string,
    readonly secretName: string,
    private readonly opts: KubeStoreOptions = {},
  ) {
    this.path = secretPath(namespace, secretName);
  }

  async setup(settings: Settings, signal: AbortSignal): Promise<KubeSetupResult> {
    const res = await setupKube({
      checkSecretPermissions: (sig) => checkSecretPermissions(this.client, this.namespace, this.secretName, sig),
      getSecret: (sig) => this.getSecretOrThrow(sig),
      namespace: this.namespace,
      serviceAccount: () => tokenServiceAccount(this.client.cachedToken()),
    }, settings, signal);
    this.canPatch = res.canPatch;
    return res.authKey === undefined ? { canPatch: res.canPatch } : { canPatch: res.canPatch, authKey: res.authKey };
  }

  async resetState(settings: Settings, configAuthKey: string, signal: AbortSignal): Promise<void> {
    let current: Record<string, string> | undefined;
    try {
      current = await this.getSecretOrThrow(signal);
    } catch (err) {
      throw new Error(`failed to read state Secret ${JSON.stringify(this.secretName)} to reset state: ${(err as Error).message}`);
    }
    if (current === undefined) return;
    await this.strategicMerge(resetData(current, settings.podUID, configAuthKey), signal);
  }

  storeDeviceID(id: string, signal: AbortSignal): Promise<void> {
    return this.retriedWrite('storing device ID in Kubernetes Secret', signal, () => this.strategicMerge({ device_id: id }, signal));
  }

  storeDeviceEndpoints(fqdn: string, ips: string[], signal: AbortSignal): Promise<void> {
    return this.retriedWrite('storing device IPs and FQDN in Kubernetes Secret', signal,
      () => this.strategicMerge({ device_fqdn: fqdn, device_ips: deviceIPsValue(ips) }, signal));
  }

  deleteAuthKey(signal: AbortSignal): Promise<void> {
    return this.retriedWrite('deleting authkey from Kubernetes Secret', signal, async () => {
      try {
        await this.jsonPatch(removeKeyPatch('authkey'), signal);
      } catch (err) {
        // 422: the key is already gone (the JSON patch "remove" found nothing to remove).
        if (!isInvalid(err)) throw err;
      }
    });
  }

  async waitConsistentState(signal: AbortSignal): Promise<void> {
    await this.waitConsistent(signal);
  }

  /** waitConsistentState, telling why it stopped (for tests and callers that care). */
  async waitConsistent(signal: AbortSignal): Promise<'consistent' | 'missing' | 'timeout'> {
    // `Checking for consistent state` is logged by the orchestrator before it calls this.
    let waitedLogged = false;
    for (let n = 1; ; n++) {
      if (signal.aborted) break;
      try {
        const data = await this.getSecretOrThrow(signal);
        if (data === undefined) return 'missing';
        if (isConsistentState(Object.keys(data))) return 'consistent';
        if (!waitedLogged) {
          log(`Waiting for tailscaled to finish writing state to Secret ${JSON.stringify(this.secretName)}`);
          waitedLogged = true;
        }
      } catch (err) {
        if (signal.aborted) break;
        log(`Error waiting for consistent state on shutdown: getting Secret ${JSON.stringify(this.secretName)}: ${errText(err)}`);
      }
      if (!signal.aborted) await sleep(consistencyBackoffMs(n, this.opts.random), signal);
    }
    log('Error waiting for consistent state on shutdown: context deadline exceeded');
    return 'timeout';
  }

  patchKeys(data: Record<string, string | null>, signal: AbortSignal): Promise<void> {
    return this.strategicMerge(data, signal);
  }

  async getSecret(signal: AbortSignal): Promise<SecretData | undefined> {
    return this.getSecretOrThrow(signal);
  }

  async replaceKey(key: string, value: string, signal: AbortSignal): Promise<void> {
    // Upstream GETs the Secret first only to fail when it is missing; the PATCH fails then too,
    // so the GET is left out (one round trip less on every status write, the whole Secret not
    // downloaded and decoded). A 404 gets the error the GET's absence check gave.
    try {
      await this.jsonPatch(replaceKeyPatch(key, value), signal);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw explainSecretError(new KubeAPIError(`secrets "${this.secretName}" not found`, 404, 404, 'NotFound'), 'patch', this.namespace, this.secretName);
    }
  }

  close(): void {
    this.client.close();
  }

  private async getSecretOrThrow(signal: AbortSignal): Promise<Record<string, string> | undefined> {
    try {
      const s = await this.client.request<SecretObject>({ method: 'GET', path: this.path, signal });
      return decodeData(s?.data);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw explainSecretError(err, 'get', this.namespace, this.secretName);
    }
  }

  private async strategicMerge(data: Record<string, string | null>, signal: AbortSignal): Promise<void> {
    try {
      await this.client.request({
        method: 'PATCH',
        path: `${this.path}?fieldManager=${FIELD_MANAGER}`,
        body: strategicMergeBody(this.namespace, this.secretName, data),
        contentType: STRATEGIC_MERGE,
        signal,
      });
    } catch (err) {
      throw explainSecretError(err, 'patch', this.namespace, this.secretName);
    }
  }

  private async jsonPatch(ops: unknown, signal: AbortSignal): Promise<void> {
    try {
      await this.client.request({ method: 'PATCH', path: this.path, body: ops, contentType: JSON_PATCH, signal });
    } catch (err) {
      // 422 is left untouched: callers decide whether it is expected.
      throw isInvalid(err) ? err : explainSecretError(err, 'patch', this.namespace, this.secretName);
    }
  }

  /** Transient errors and a briefly missing Secret (tailscaled recreates it) are retried. */
  private retriedWrite(what: string, signal: AbortSignal, op: () => Promise<void>): Promise<void> {
    return withRetry(op, {
      what,
      signal,
      budgetMs: this.opts.writeRetryBudgetMs ?? DEFAULT_WRITE_RETRY_BUDGET_MS,
      retryable: (err) => isTransient(err) || isNotFound(err),
      retryableAfterOutage: isDenied,
    });
  }
}

/**
 * Builds the in-cluster client for the state Secret: reads the service-account namespace and CA,
 * probes Events permissions (for upstream's notice). Throws a message the orchestrator prefixes
 * with `error initializing kube client: `.
 */
export async function createKubeStateStore(settings: Settings, opts: KubeStoreOptions = {}, signal?: AbortSignal): Promise<KubeSecretStore> {
  if (!settings.inKubernetes) {
    throw new Error(`TS_KUBE_SECRET is set to ${JSON.stringify(settings.kubeSecret)}, but containerboot is not running in Kubernetes ` +
      '(KUBERNETES_SERVICE_HOST is empty). Set TS_KUBE_SECRET="" (or unset it) to keep state outside a Kubernetes Secret, ' +
      `or set TS_STATE_DIR to a writable directory${doctorHint('kube')}.`);
  }
  const sa = readServiceAccount(settings.root);
  const client = new KubeClient({
    baseURL: apiServerURL(settings),
    ca: sa.ca,
    tokens: new TokenSource(sa.tokenPath),
    requestTimeoutMs: opts.requestTimeoutMs,
  });
  await probeEventPermissions(client, sa.namespace, settings.podName, settings.podUID, signal);
  return new KubeSecretStore(client, sa.namespace, settings.kubeSecret, opts);
}
