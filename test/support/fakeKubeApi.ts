// A fake Kubernetes API server over TLS, faithful where containerboot depends on the real one:
// bearer-token auth (401 Status), Secret GET/PATCH (strategic merge with null deletes, JSON patch
// with RFC 6902 semantics: removing a missing key is a 422), create/delete for stand-ins of
// tailscaled's kubestore, SelfSubjectAccessReviews answered per verb, RBAC enforced on the Secret
// calls, Status bodies shaped like the API server's, injected latency and failures, a request log.
// Loopback only. The CA is generated at start-up with openssl and written, with the token and the
// namespace, into <root>/var/run/secrets/kubernetes.io/serviceaccount/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type Verb = 'get' | 'update' | 'patch' | 'create' | 'delete' | 'list' | 'watch';

export interface FakeRequest {
  method: string;
  /** Path without query. */
  path: string;
  query: Record<string, string>;
  contentType: string;
  authorization: string;
  /** Parsed JSON body, or the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  /** Status code answered (0 when the connection was dropped or never answered). */
  status: number;
}

export interface Fault {
  /** Matches requests with this method (any when unset). */
  method?: string;
  /** Matches requests whose path (without query) includes this string. */
  pathIncludes?: string;
  /** Matches JSON-patch or strategic-merge requests only. */
  contentType?: string;
  /** How many matching requests fail (default 1). */
  count?: number;
  /** Answer with this HTTP status and a Status body. */
  status?: number;
  message?: string;
  /** Never answer (the client must time out). */
  hang?: boolean;
  /** Destroy the connection (ECONNRESET on the client). */
  reset?: boolean;
}

export interface FakeState {
  namespace: string;
  token: string;
  /** Secret name → decoded data. */
  secrets: Map<string, Map<string, string>>;
  /** Per resource (`secrets`, `events`) and verb; missing entries mean allowed. */
  permissions: Record<string, Partial<Record<Verb, boolean>>>;
  /** Delay before every answer. */
  latencyMs: number;
  faults: Fault[];
  resourceVersion: number;
}

export interface FakeKubeApiOptions {
  /** TS_TEST_ONLY_ROOT to write the service-account files under (a temp dir when unset). */
  root?: string;
  namespace?: string;
  token?: string;
  /** Initial Secrets: name → decoded data. */
  secrets?: Record<string, Record<string, string>>;
  permissions?: Record<string, Partial<Record<Verb, boolean>>>;
  latencyMs?: number;
  /** Listen address (default 127.0.0.1; '::1' for IPv6 tests). */
  host?: string;
  /** Called once a write to a Secret has been applied, before it is answered (benchmarks time it). */
  onSecretWrite?: (name: string) => void;
}

export interface FakeKubeApi {
  url: string;
  host: string;
  port: number;
  root: string;
  saDir: string;
  /** PEM of the CA that signed the server certificate (also in <saDir>/ca.crt). */
  ca: string;
  state: FakeState;
  requests: FakeRequest[];
  /** Environment for a containerboot process talking to this server. */
  env: Record<string, string>;
  /** Decoded data of a Secret, undefined when it does not exist. */
  secret(name: string): Record<string, string> | undefined;
  setSecret(name: string, data: Record<string, string>): void;
  deleteSecret(name: string): void;
  fail(f: Fault): void;
  /** Rotates the token the server accepts; writes it to the token file unless told not to. */
  rotateToken(token: string, writeFile?: boolean): void;
  close(): Promise<void>;
}

interface CertFiles {
  ca: string;
  cert: string;
  key: string;
}

let certCache: CertFiles | undefined;

/** A throwaway CA and a server certificate for localhost/127.0.0.1/::1, made once per process. */
export function testCerts(): CertFiles {
  if (certCache) return certCache;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-kube-ca-'));
  const f = (n: string): string => path.join(dir, n);
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'),
    '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=fake-kube-ca');
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('srv.key'),
    '-out', f('srv.csr'), '-subj', '/CN=kube-apiserver');
  ossl('x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('srv.crt'), '-days', '2', '-extfile', f('ext.cnf'));
  certCache = { ca: readFileSync(f('ca.crt'), 'utf8'), cert: readFileSync(f('srv.crt'), 'utf8'), key: readFileSync(f('srv.key'), 'utf8') };
  return certCache;
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  const s: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason };
  if (details) s.details = details;
  s.code = code;
  return s;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
  415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

class HTTPFailure extends Error {
  constructor(readonly code: number, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode64(key: string, v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length % 4 !== 0 || !B64.test(v)) {
    throw new HTTPFailure(400, `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data.${key} of ${name})`);
  }
  return Buffer.from(v, 'base64').toString('utf8');
}

/** RFC 6901 pointer → data key, for the only paths a Secret patch from containerboot uses. */
function dataKey(pointer: unknown): string | undefined {
  if (typeof pointer !== 'string' || !pointer.startsWith('/data/')) return undefined;
  return pointer.slice('/data/'.length).replace(/~1/g, '/').replace(/~0/g, '~');
}

export async function startFakeKubeApi(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const certs = testCerts();
  const root = opts.root ?? mkdtempSync(path.join(os.tmpdir(), 'fake-kube-root-'));
  const saDir = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  const state: FakeState = {
    namespace: opts.namespace ?? 'default',
    token: opts.token ?? 'fake-sa-token-0123456789',
    secrets: new Map(Object.entries(opts.secrets ?? {}).map(([n, d]) => [n, new Map(Object.entries(d))])),
    permissions: structuredClone(opts.permissions ?? {}),
    latencyMs: opts.latencyMs ?? 0,
    faults: [],
    resourceVersion: 1,
  };
  mkdirSync(saDir, { recursive: true });
  writeFileSync(path.join(saDir, 'namespace'), state.namespace);
  writeFileSync(path.join(saDir, 'token'), state.token);
  writeFileSync(path.join(saDir, 'ca.crt'), certs.ca);

  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  const allowed = (resource: string, verb: Verb): boolean => state.permissions[resource]?.[verb] !== false;
  const forbidden = (verb: Verb, name: string): HTTPFailure => new HTTPFailure(403,
    `secrets "${name}" is forbidden: User "system:serviceaccount:${state.namespace}:tailscale" cannot ${verb} resource "secrets" in API group "" in the namespace "${state.namespace}"`,
    { name, kind: 'secrets' });
  const notFound = (name: string): HTTPFailure => new HTTPFailure(404, `secrets "${name}" not found`, { name, kind: 'secrets' });

  const secretObject = (name: string, data: Map<string, string>): Record<string, unknown> => ({
    kind: 'Secret',
    apiVersion: 'v1',
    metadata: { name, namespace: state.namespace, resourceVersion: String(state.resourceVersion), creationTimestamp: '2026-01-01T00:00:00Z' },
    data: Object.fromEntries([...data].map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
    type: 'Opaque',
  });

  const handleSecret = (method: string, ns: string, name: string | undefined, contentType: string, body: unknown): unknown => {
    if (ns !== state.namespace) throw new HTTPFailure(403, `namespace ${ns} is not this service account's namespace`);
    if (name === undefined) {
      if (method !== 'POST') throw new HTTPFailure(405, 'method not allowed');
      if (!allowed('secrets', 'create')) throw forbidden('create', '');
      const obj = body as { metadata?: { name?: string }; data?: Record<string, unknown> } | undefined;
      const newName = obj?.metadata?.name ?? '';
      if (newName === '') throw new HTTPFailure(422, 'Secret "" is invalid: metadata.name: Required value: name or generateName is required');
      if (state.secrets.has(newName)) throw new HTTPFailure(409, `secrets "${newName}" already exists`, { name: newName, kind: 'secrets' });
      const data = new Map(Object.entries(obj?.data ?? {}).map(([k, v]) => [k, decode64(k, v, newName)]));
      state.secrets.set(newName, data);
      state.resourceVersion++;
      return secretObject(newName, data);
    }
    const verb: Verb = method === 'GET' ? 'get' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : method === 'PUT' ? 'update' : 'create';
    if (!allowed('secrets', verb)) throw forbidden(verb, name);
    const data = state.secrets.get(name);
    if (data === undefined) throw notFound(name);
    if (method === 'GET') return secretObject(name, data);
    if (method === 'DELETE') {
      state.secrets.delete(name);
      return status(200, '', '', { name, kind: 'secrets' });
    }
    if (method !== 'PATCH') throw new HTTPFailure(405, 'method not allowed');
    const next = new Map(data);
    if (contentType === 'application/strategic-merge-patch+json' || contentType === 'application/merge-patch+json') {
      const patch = body as { metadata?: { name?: string; namespace?: string }; data?: Record<string, unknown> | null };
      if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new HTTPFailure(400, 'invalid patch body');
      if (patch.metadata?.name !== undefined && patch.metadata.name !== name) {
        throw new HTTPFailure(422, `Secret "${name}" is invalid: metadata.name: Invalid value: "${patch.metadata.name}": field is immutable`);
      }
      for (const [k, v] of Object.entries(patch.data ?? {})) {
        if (v === null) next.delete(k);
        else next.set(k, decode64(k, v, name));
      }
    } else if (contentType === 'application/json-patch+json') {
      if (!Array.isArray(body)) throw new HTTPFailure(400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
      for (const op of body as Array<{ op?: string; path?: string; value?: unknown }>) {
        const key = dataKey(op.path);
        if (key === undefined) throw new HTTPFailure(422, `the server rejected our request due to an error in our request: unsupported path ${String(op.path)}`);
        switch (op.op) {
          case 'remove':
            if (!next.has(key)) throw new HTTPFailure(422, `jsonpatch remove operation does not apply: doc is missing key: ${op.path}`);
            next.delete(key);
            break;
          case 'add':
          case 'replace':
            // The API server's JSON patch accepts replace on a missing map member (spec §4.3).
            next.set(key, decode64(key, op.value, name));
            break;
          case 'test':
            if (next.get(key) !== decode64(key, op.value, name)) throw new HTTPFailure(422, `testing value ${op.path} failed: test failed`);
            break;
          default:
            throw new HTTPFailure(422, `Unexpected kind: ${String(op.op)}`);
        }
      }
    } else {
      throw new HTTPFailure(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
    state.secrets.set(name, next);
    state.resourceVersion++;
    return secretObject(name, next);
  };

  const handleSSAR = (body: unknown): unknown => {
    const ra = (body as { spec?: { resourceAttributes?: Record<string, string> } })?.spec?.resourceAttributes;
    if (!ra || typeof ra.verb !== 'string' || typeof ra.resource !== 'string') {
      throw new HTTPFailure(422, 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value');
    }
    const ok = allowed(ra.resource, ra.verb as Verb);
    return {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: ra },
      status: ok ? { allowed: true, reason: 'RBAC: allowed by RoleBinding' } : { allowed: false },
    };
  };

  const takeFault = (method: string, p: string, contentType: string): Fault | undefined => {
    const i = state.faults.findIndex((f) => (f.method === undefined || f.method === method) &&
      (f.pathIncludes === undefined || p.includes(f.pathIncludes)) && (f.contentType === undefined || f.contentType === contentType));
    if (i < 0) return undefined;
    const f = state.faults[i]!;
    f.count = (f.count ?? 1) - 1;
    if (f.count <= 0) state.faults.splice(i, 1);
    return f;
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'https://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      if (text !== '') {
        try { body = JSON.parse(text); } catch { body = text; }
      }
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const entry: FakeRequest = {
        method: req.method ?? '', path: u.pathname, query: Object.fromEntries(u.searchParams), contentType,
        authorization: req.headers.authorization ?? '', body, status: 0,
      };
      requests.push(entry);
      const answer = (code: number, obj: unknown): void => {
        entry.status = code;
        const out = JSON.stringify(obj);
        res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
      };
      const run = (): void => {
        const fault = takeFault(entry.method, entry.path, contentType);
        if (fault?.hang) return;
        if (fault?.reset) {
          req.socket.destroy();
          return;
        }
        if (fault?.status) {
          answer(fault.status, status(fault.status, REASONS[fault.status] ?? 'Unknown', fault.message ?? defaultMessage(fault.status)));
          return;
        }
        if (entry.authorization !== `Bearer ${state.token}`) {
          answer(401, status(401, 'Unauthorized', 'Unauthorized'));
          return;
        }
        try {
          let m: RegExpMatchArray | null;
          if (entry.method === 'POST' && entry.path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
            answer(201, handleSSAR(body));
          } else if ((m = entry.path.match(/^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/))) {
            const name = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
            const result = handleSecret(entry.method, decodeURIComponent(m[1]!), name, contentType, body);
            const written = name ?? (body as { metadata?: { name?: string } } | undefined)?.metadata?.name;
            if (entry.method !== 'GET' && written !== undefined) opts.onSecretWrite?.(written);
            answer(entry.method === 'POST' ? 201 : 200, result);
          } else {
            answer(404, status(404, 'NotFound', 'the server could not find the requested resource'));
          }
        } catch (err) {
          if (!(err instanceof HTTPFailure)) throw err;
          answer(err.code, status(err.code, REASONS[err.code] ?? 'Unknown', err.message, err.details));
        }
      };
      if (state.latencyMs > 0) setTimeout(run, state.latencyMs);
      else run();
    });
  };

  const server = https.createServer({ cert: certs.cert, key: certs.key }, handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `https://${urlHost}:${port}`,
    host,
    port,
    root,
    saDir,
    ca: certs.ca,
    state,
    requests,
    env: { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT_HTTPS: String(port), KUBERNETES_SERVICE_PORT: String(port), TS_TEST_ONLY_ROOT: root },
    secret(name) {
      const d = state.secrets.get(name);
      return d === undefined ? undefined : Object.fromEntries(d);
    },
    setSecret(name, data) {
      state.secrets.set(name, new Map(Object.entries(data)));
      state.resourceVersion++;
    },
    deleteSecret(name) {
      state.secrets.delete(name);
    },
    fail(f) {
      state.faults.push({ ...f });
    },
    rotateToken(token, writeFile = true) {
      state.token = token;
      if (writeFile) writeFileSync(path.join(saDir, 'token'), token);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function defaultMessage(code: number): string {
  switch (code) {
    case 409: return 'Operation cannot be fulfilled on secrets: the object has been modified; please apply your changes to the latest version and try again';
    case 429: return 'Too many requests, please try again later.';
    case 500: return 'Internal error occurred: injected failure';
    case 503: return 'The server is currently unable to handle the request';
    case 504: return 'Timeout: request did not complete within the allotted timeout';
    case 403: return 'forbidden: injected failure';
    case 422: return 'the server rejected our request due to an error in our request';
    default: return `injected failure ${code}`;
  }
}
