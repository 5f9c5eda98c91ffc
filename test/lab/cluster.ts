// The real single-node Kubernetes (scripts/k8s/cluster.sh) as a lab component: start/stop it,
// reach its API server from the test process (which stays in the host namespace) with
// @kubernetes/client-node, and join its network namespace to a lab's lan so containerboot in a lab
// namespace, and pods, reach each other and headscale.
//
//   lab lan 10.231.7.0/24 ── cbk8s `lab0` 10.231.7.250 ── API server 10.200.0.2:6443, pods 10.244.0.0/24
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import type { Lab, LabNode } from './lab.js';
import { run, runOk } from './proc.js';
import { REPO_ROOT, TOOLS_DIR } from './tools.js';

export const CLUSTER_SCRIPT = path.join(REPO_ROOT, 'scripts', 'k8s', 'cluster.sh');
export const CLUSTER_NS = 'cbk8s';
export const CLUSTER_LAB_IP = '10.231.7.250';
export const POD_CIDR = '10.244.0.0/24';
export const K8S_BIN = path.join(TOOLS_DIR, 'k8s', 'bin');
const K8S_VERSION = 'v1.34.2';

/** What the real cluster is missing on this machine (empty when it can start). */
export function missingClusterPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kubectl']) {
    if (!fs.existsSync(path.join(K8S_BIN, b))) missing.push(`${path.join(K8S_BIN, b)} (build it with: bash scripts/k8s/install.sh)`);
  }
  try {
    const v = execFileSync(path.join(K8S_BIN, 'kubelet'), ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (!v.includes(K8S_VERSION)) missing.push(`kubelet ${K8S_VERSION} (found ${v.trim()}; rebuild with: bash scripts/k8s/install.sh)`);
  } catch { /* reported above */ }
  for (const f of ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/lib/cni/bridge', '/bin/busybox', '/usr/bin/podman']) {
    if (!fs.existsSync(f)) missing.push(`${f} (Debian packages containerd runc containernetworking-plugins busybox-static podman; run: bash scripts/k8s/install.sh)`);
  }
  return missing;
}

export interface Cluster {
  dir: string;
  /** CA of the API server's certificate (PEM). */
  ca: string;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  apps: k8s.AppsV1Api;
  /** https URL of the API server as seen from a connected lab namespace. */
  labServer: string;
  /** Runs `cluster.sh <args>` (restart NAME, halt NAME, resume NAME, import REF). */
  script(...args: string[]): Promise<string>;
  /** Runs kubectl inside the cluster's namespace with the admin credentials. */
  kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The command line of kubectl(...args), for long-running calls (`logs -f`). */
  kubectlArgv(...args: string[]): [string, string[]];
  stop(): Promise<void>;
}

/** cluster.sh refuses to start or stop a cluster whose owner (this test process) is alive, for anyone else. */
const OWNER_ENV = { ...process.env, CBK8S_OWNER: String(process.pid) };
let stopSyncInstalled = false;
let running = false;

function stopSync(): void {
  if (!running) return;
  running = false;
  try { execFileSync('bash', [CLUSTER_SCRIPT, 'stop'], { stdio: 'ignore', timeout: 120_000, env: OWNER_ENV }); } catch { /* best effort at exit */ }
}

/**
 * Starts the cluster (a leftover one from a killed run is stopped first) and a TCP bridge on the
 * test process's 127.0.0.1 to the API server (a unix socket that a forwarder inside the cluster's
 * namespace serves). Throws naming what is missing when the cluster cannot run.
 */
export async function startCluster(log: (m: string) => void = () => {}): Promise<Cluster> {
  const missing = missingClusterPrerequisites();
  if (missing.length) throw new Error(`the real Kubernetes cluster cannot run; missing:\n  - ${missing.join('\n  - ')}`);
  if (!stopSyncInstalled) {
    stopSyncInstalled = true;
    process.on('exit', stopSync);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => { stopSync(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15)); });
  }
  const t0 = Date.now();
  running = true;
  const r = await run('bash', [CLUSTER_SCRIPT, 'start'], { timeoutMs: 240_000, env: OWNER_ENV });
  if (r.code !== 0) {
    await run('bash', [CLUSTER_SCRIPT, 'stop'], { timeoutMs: 120_000, env: OWNER_ENV });
    running = false;
    throw new Error(`cluster.sh start failed (${r.code}):\n${r.stderr.trim()}`);
  }
  log(`cluster ready in ${Date.now() - t0} ms`);
  const env = Object.fromEntries((await runOk('bash', [CLUSTER_SCRIPT, 'env'])).trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  const dir = env.CBK8S_DIR!;
  const ca = fs.readFileSync(env.CBK8S_CA!, 'utf8');
  const bridge = await startApiBridge(path.join(dir, 'run', 'apiserver.sock'));
  const admin = fs.readFileSync(env.CBK8S_ADMIN_KUBECONFIG!, 'utf8');
  const token = admin.match(/token: "([^"]+)"/)?.[1];
  if (!token) throw new Error('admin kubeconfig has no token');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'cbk8s', server: `https://127.0.0.1:${bridge.port}`, caData: Buffer.from(ca).toString('base64') }],
    users: [{ name: 'admin', token }],
    contexts: [{ name: 'cbk8s', cluster: 'cbk8s', user: 'admin' }],
    currentContext: 'cbk8s',
  });
  const kubectlArgv = (...args: string[]): [string, string[]] => ['nsenter', [`--net=/var/run/netns/${CLUSTER_NS}`, '--', path.join(K8S_BIN, 'kubectl'), '--kubeconfig', env.CBK8S_ADMIN_KUBECONFIG!, ...args]];
  const kubectl = (...args: string[]) => run(...kubectlArgv(...args), { timeoutMs: 60_000 });
  return {
    dir,
    ca,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    labServer: `https://${CLUSTER_LAB_IP}:6443`,
    script: (...args) => runOk('bash', [CLUSTER_SCRIPT, ...args], { timeoutMs: 120_000, env: OWNER_ENV }),
    kubectl,
    kubectlArgv,
    async stop() {
      bridge.close();
      running = false;
      const s = await run('bash', [CLUSTER_SCRIPT, 'stop'], { timeoutMs: 180_000, env: OWNER_ENV });
      if (s.code !== 0) throw new Error(`cluster.sh stop failed (${s.code}): ${s.stderr.trim()}`);
    },
  };
}

const HOST_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'];

export function hostSysctls(): Record<string, string> {
  return Object.fromEntries(HOST_SYSCTLS.map((k) => [k, fs.readFileSync(`/proc/sys/${k}`, 'utf8').trim()]));
}

/**
 * What a stopped cluster left behind (empty = nothing): processes started from the k8s binaries or
 * with our containerd socket, mounts under its directory, its namespaces, kubepods cgroups, and
 * host sysctls that differ from `before`.
 */
export function clusterLeftovers(dir: string, before: Record<string, string>, netnsBefore: string[]): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.startsWith(K8S_BIN) || cmd.includes(path.join(dir, 'containerd'))) out.push(`process ${p}: ${cmd.slice(0, 120)}`);
    } catch { /* gone */ }
  }
  for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) if (m.split(' ')[1]?.startsWith(`${dir}/`)) out.push(`mount ${m.split(' ')[1]}`);
  for (const ns of fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : []) {
    if (ns === CLUSTER_NS || (ns.startsWith('cni-') && !netnsBefore.includes(ns))) out.push(`netns ${ns}`);
  }
  for (const h of fs.readdirSync('/sys/fs/cgroup')) if (fs.existsSync(`/sys/fs/cgroup/${h}/kubepods`)) out.push(`cgroup /sys/fs/cgroup/${h}/kubepods`);
  const now = hostSysctls();
  for (const [k, v] of Object.entries(before)) if (now[k] !== v) out.push(`sysctl ${k}=${now[k]} (was ${v})`);
  return out;
}

export function netnsList(): string[] {
  return fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : [];
}

/** 127.0.0.1:<port> in the test process → the forwarder's unix socket → the API server. */
async function startApiBridge(sock: string): Promise<{ port: number; close(): void }> {
  const server = net.createServer((c) => {
    const u = net.connect(sock);
    c.pipe(u).pipe(c);
    const end = () => { c.destroy(); u.destroy(); };
    c.on('error', end);
    u.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/**
 * Joins the cluster's namespace to `lab`'s lan (veth from the lab's switch namespace, so nothing
 * appears in the host namespace) and routes the pod network from headscale's namespace, so pods
 * reach headscale and containerboot in a lab namespace reaches the API server at CLUSTER_LAB_IP.
 */
export async function connectLab(lab: Lab, nodes: LabNode[] = []): Promise<void> {
  await run('ip', ['-n', CLUSTER_NS, 'link', 'del', 'lab0']);
  const sw = `${lab.id}-sw`;
  await runOk('ip', ['-n', sw, 'link', 'add', 'cblk8s', 'type', 'veth', 'peer', 'name', 'lab0', 'netns', CLUSTER_NS]);
  await runOk('ip', ['-n', sw, 'link', 'set', 'cblk8s', 'master', 'cblbr0', 'up']);
  await runOk('ip', ['-n', CLUSTER_NS, 'addr', 'add', `${CLUSTER_LAB_IP}/24`, 'dev', 'lab0']);
  await runOk('ip', ['-n', CLUSTER_NS, 'link', 'set', 'lab0', 'up']);
  for (const n of [lab.headscale.node, ...nodes]) await lab.addRoute(n, POD_CIDR, CLUSTER_LAB_IP);
}

/** A TokenRequest for `sa` in `namespace` (the token a projected volume would hold). */
export async function mintToken(c: Cluster, namespace: string, sa: string, expirationSeconds = 3600): Promise<string> {
  const tr = await c.core.createNamespacedServiceAccountToken({ name: sa, namespace, body: { spec: { audiences: [], expirationSeconds } } });
  const t = tr.status?.token;
  if (!t) throw new Error(`TokenRequest for ${namespace}/${sa} returned no token`);
  return t;
}

/** A service-account directory (token, ca.crt, namespace) as the kubelet projects it. */
export function writeServiceAccountDir(c: Cluster, dir: string, namespace: string, token: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'ca.crt'), c.ca);
  fs.writeFileSync(path.join(dir, 'namespace'), namespace);
  return dir;
}

/** containerboot env pointing at the cluster's API server through the lab lan. */
export function clusterEnv(): Record<string, string> {
  return {
    KUBERNETES_SERVICE_HOST: CLUSTER_LAB_IP,
    KUBERNETES_SERVICE_PORT: '6443',
    KUBERNETES_SERVICE_PORT_HTTPS: '6443',
    TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV: 'true',
  };
}

export function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cbk8s-${name}-`));
}
