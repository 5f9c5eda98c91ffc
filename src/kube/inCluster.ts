// In-cluster configuration (spec §4.1): service-account files under <root> and the API server URL.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../settings/types.js';
import { readTextFile } from '../util/lean.js';
import { registerSecret } from '../log.js';
import { doctorHint } from '../util/doctorHint.js';

export const SERVICE_ACCOUNT_DIR = 'var/run/secrets/kubernetes.io/serviceaccount';
/** How long a read token is trusted before the file is read again (kubelet rotates projected tokens). */
export const TOKEN_CACHE_MS = 30 * 60_000;

export function serviceAccountDir(root: string): string {
  return path.join(root || '/', SERVICE_ACCOUNT_DIR);
}

/** Host part of a URL: IPv6 literals need brackets (upstream formats them bare, which cannot work). */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * API server base URL. The env-provided address is used under a test root or when explicitly asked
 * for; otherwise the cluster DNS name, like upstream.
 */
export function apiServerURL(s: Pick<Settings, 'root' | 'kubeReadAPIServerAddressFromEnv' | 'kubernetesServiceHost' | 'kubernetesServicePortHTTPS'>): string {
  const fromEnv = (s.root !== '' && s.root !== '/') || s.kubeReadAPIServerAddressFromEnv;
  if (!fromEnv) return 'https://kubernetes.default.svc';
  if (s.kubernetesServiceHost === '') {
    throw new Error('KUBERNETES_SERVICE_HOST is empty, but the Kubernetes API address must be read from the environment (TS_TEST_ONLY_ROOT or TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV is set)');
  }
  const port = s.kubernetesServicePortHTTPS;
  if (port !== '' && !/^\d{1,5}$/.test(port)) {
    throw new Error(`KUBERNETES_SERVICE_PORT_HTTPS must be a port number, got ${JSON.stringify(port)}`);
  }
  return `https://${urlHost(s.kubernetesServiceHost)}${port === '' ? '' : `:${port}`}`;
}

export interface ServiceAccount {
  namespace: string;
  /** PEM of the only trusted root(s). */
  ca: string;
  tokenPath: string;
}

/** Reads namespace and ca.crt once, at client construction; the token is read lazily (TokenSource). */
export function readServiceAccount(root: string): ServiceAccount {
  const dir = serviceAccountDir(root);
  const read = (name: string): string => {
    const file = path.join(dir, name);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      throw new Error(`reading service-account file ${file}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}${doctorHint('kube.serviceaccount')}`);
    }
  };
  // Used verbatim, as upstream does: kubelet writes it without a newline.
  const namespace = read('namespace');
  const ca = read('ca.crt');
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(ca)) {
    throw new Error(`kube: error in creating root cert pool: ${path.join(dir, 'ca.crt')} holds no PEM certificate`);
  }
  return { namespace, ca, tokenPath: path.join(dir, 'token') };
}

/** Bearer token read on first use, cached for 30 minutes and dropped after a 401. */
export class TokenSource {
  private token: string | undefined;
  private readAt = 0;

  constructor(private readonly file: string, private readonly now: () => number = Date.now) {}

  async get(): Promise<string> {
    if (this.token !== undefined && this.now() - this.readAt < TOKEN_CACHE_MS) return this.token;
    let t: string;
    try {
      t = await readTextFile(this.file);
    } catch (err) {
      throw new Error(`reading service-account token ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // A trailing newline (an `echo`-written file) would be an invalid header value.
    t = t.trim();
    registerSecret(t);
    // Node refuses such a header with an error that names neither the file nor the cause.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(t)) {
      throw new Error(`reading service-account token ${this.file}: the token holds characters not allowed in an HTTP header (a control character, a line break or non-Latin-1 text)`);
    }
    this.token = t;
    this.readAt = this.now();
    return t;
  }

  invalidate(): void {
    this.token = undefined;
  }

  cached(): string | undefined {
    return this.token;
  }
}
