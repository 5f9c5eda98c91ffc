import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiServerURL, readServiceAccount, SERVICE_ACCOUNT_DIR, TOKEN_CACHE_MS, TokenSource } from '../../src/kube/inCluster.js';
import { createKubeStateStore } from '../../src/kube/store.js';
import { testCerts } from '../support/fakeKubeApi.js';
import { baseSettings } from './helpers.js';

describe('apiServerURL', () => {
  const env = { kubernetesServiceHost: '10.96.0.1', kubernetesServicePortHTTPS: '443', kubeReadAPIServerAddressFromEnv: false };
  it('uses the cluster DNS name by default', () => {
    expect(apiServerURL({ ...env, root: '/' })).toBe('https://kubernetes.default.svc');
  });
  it('reads host and port from the environment under a test root', () => {
    expect(apiServerURL({ ...env, root: '/tmp/x' })).toBe('https://10.96.0.1:443');
  });
  it('reads host and port from the environment when TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV=true', () => {
    expect(apiServerURL({ ...env, root: '/', kubeReadAPIServerAddressFromEnv: true })).toBe('https://10.96.0.1:443');
  });
  it('brackets an IPv6 host (upstream does not)', () => {
    expect(apiServerURL({ ...env, root: '/r', kubernetesServiceHost: 'fd00:10:96::1' })).toBe('https://[fd00:10:96::1]:443');
  });
  it('rejects an empty host or a non-numeric port with the variable name', () => {
    expect(() => apiServerURL({ ...env, root: '/r', kubernetesServiceHost: '' })).toThrow(/KUBERNETES_SERVICE_HOST is empty/);
    expect(() => apiServerURL({ ...env, root: '/r', kubernetesServicePortHTTPS: 'https' })).toThrow(/KUBERNETES_SERVICE_PORT_HTTPS must be a port number, got "https"/);
  });
});

describe('service account', () => {
  const mkRoot = (files: Record<string, string>): string => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'sa-'));
    const dir = path.join(root, SERVICE_ACCOUNT_DIR);
    mkdirSync(dir, { recursive: true });
    for (const [n, c] of Object.entries(files)) writeFileSync(path.join(dir, n), c);
    return root;
  };

  it('reads the namespace verbatim and the CA', () => {
    const sa = readServiceAccount(mkRoot({ namespace: 'tailscale', 'ca.crt': testCerts().ca, token: 't' }));
    expect(sa.namespace).toBe('tailscale');
    expect(sa.ca).toContain('BEGIN CERTIFICATE');
  });
  it('names the missing file', () => {
    const root = mkRoot({ 'ca.crt': testCerts().ca });
    expect(() => readServiceAccount(root)).toThrow(`reading service-account file ${path.join(root, SERVICE_ACCOUNT_DIR, 'namespace')}: no such file or directory`);
  });
  it('rejects a CA file without a certificate', () => {
    expect(() => readServiceAccount(mkRoot({ namespace: 'ns', 'ca.crt': 'garbage' }))).toThrow(/^kube: error in creating root cert pool/);
  });
  it('caches the token for 30 minutes and re-reads it after invalidation', async () => {
    const root = mkRoot({ token: 'one' });
    const file = path.join(root, SERVICE_ACCOUNT_DIR, 'token');
    let now = 1_000;
    const src = new TokenSource(file, () => now);
    expect(await src.get()).toBe('one');
    writeFileSync(file, 'two\n');
    now += TOKEN_CACHE_MS - 1;
    expect(await src.get()).toBe('one');
    now += 1;
    expect(await src.get()).toBe('two');
    writeFileSync(file, 'three');
    src.invalidate();
    expect(await src.get()).toBe('three');
  });
});

describe('createKubeStateStore', () => {
  it('refuses TS_KUBE_SECRET outside Kubernetes with a clear message', async () => {
    await expect(createKubeStateStore(baseSettings({ inKubernetes: false, kubeSecret: 'mysecret' })))
      .rejects.toThrow('TS_KUBE_SECRET is set to "mysecret", but containerboot is not running in Kubernetes (KUBERNETES_SERVICE_HOST is empty)');
  });
});
