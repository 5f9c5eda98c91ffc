// The fake Kubernetes API server inside a lab namespace (see kube-api-server.ts). Kept out of
// lab.ts because it bundles the server with esbuild at run time.
import fs from 'node:fs';
import path from 'node:path';
import type { Lab, LabNode } from './lab.js';
import { localapi } from './localapi.js';
import { spawnInNs, type LabProcess } from './proc.js';
import { NODE24, REPO_ROOT } from './tools.js';

export interface LabKubeApi {
  proc: LabProcess;
  port: number;
  /** The service-account directory (token, ca.crt, namespace) to hand to startContainerboot. */
  saDir: string;
  /** containerboot env for this API server (address from env, as TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV does). */
  env: Record<string, string>;
  secret(name: string): Promise<Record<string, string> | undefined>;
  /** Every value `key` of Secret `name` took, with the server's wall clock (ms) when the write was applied. */
  history(name: string, key: string): Promise<Array<{ at: number; value?: string }>>;
  requests(): Promise<Array<{ method: string; path: string }>>;
}

/** Starts the fake API server on 127.0.0.1 inside `node`'s namespace, with an empty Secret `tailscale`. */
export async function startKubeApi(lab: Lab, node: LabNode): Promise<LabKubeApi> {
  const { buildSync } = await import('esbuild');
  const out = path.join(REPO_ROOT, '.lab', 'run', `kube-api-server-${lab.id}.mjs`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  buildSync({ entryPoints: [path.join(REPO_ROOT, 'test', 'lab', 'kube-api-server.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node24', outfile: out, logLevel: 'warning' });
  const root = path.join(node.dir, 'kube');
  const control = path.join(node.dir, 'kube-control.sock');
  fs.mkdirSync(root, { recursive: true });
  const proc = spawnInNs(node.ns, [NODE24, out, root, control], { name: `kube-api(${node.role})`, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logPath: path.join(node.dir, 'kube-api.log') });
  lab.processes.push(proc);
  const m = await proc.waitForOutput(/^\{"port":(\d+),"saDir":"([^"]+)"\}$/m, 30_000);
  fs.rmSync(out, { force: true });
  const port = Number(m[1]);
  const get = async (p: string) => {
    const r = await localapi(control, 'GET', p);
    return r.status === 200 ? JSON.parse(r.body) : undefined;
  };
  return {
    proc,
    port,
    saDir: m[2],
    env: {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(port),
      KUBERNETES_SERVICE_PORT_HTTPS: String(port),
      TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV: 'true',
    },
    secret: (name) => get(`/secrets/${encodeURIComponent(name)}`),
    history: async (name, key) => (await get(`/secrets/${encodeURIComponent(name)}/history/${encodeURIComponent(key)}`)) ?? [],
    requests: async () => (await get('/requests')) ?? [],
  };
}
