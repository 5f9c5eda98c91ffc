// One test's slice of the real cluster: a namespace with upstream's ServiceAccount, Role and
// RoleBinding (docs/k8s/*.yaml of tailscale.com@v1.102.3, copied by scripts/k8s/install.sh), a
// minted token in a service-account directory, and helpers to read the state Secret back.
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { type Cluster, mintToken, writeServiceAccountDir } from '../lab/cluster.js';
import { TOOLS_DIR } from '../lab/tools.js';

export const UPSTREAM = path.join(TOOLS_DIR, 'k8s', 'upstream-tailscale-v1.102.3');

/** An upstream manifest with its {{PLACEHOLDERS}} filled in. */
export function upstreamManifest<T>(rel: string, vars: Record<string, string>): T {
  const file = path.join(UPSTREAM, rel);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing (run: bash scripts/k8s/install.sh)`);
  let text = fs.readFileSync(file, 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{{${k}}}`, v);
  return k8s.loadYaml<T>(text);
}

export interface TenantOptions {
  /** Verbs removed from upstream's Role: `named` = the rule with resourceNames, else the create rule. */
  drop?: { verb: string; named: boolean }[];
  binding?: boolean;
  secret?: string;
}

export interface Tenant {
  namespace: string;
  secret: string;
  saDir: string;
  token: string;
  /** Decoded data of the state Secret, undefined while it does not exist. */
  read(): Promise<Record<string, string> | undefined>;
  /**
   * Mints a fresh token and writes it into saDir and into the service-account directory that the
   * lab process `pid` sees (its private /run; the lab copies saDir there at start), as the
   * kubelet does when it rotates a projected token.
   */
  refreshToken(pid?: number): Promise<string>;
  /** SelfSubjectAccessReview with this tenant's own token: is `verb` on the Secret allowed? */
  can(verb: string, resource?: string, name?: string): Promise<boolean>;
  client(token?: string): k8s.CoreV1Api;
}

let seq = 0;

export async function tenant(c: Cluster, dir: string, opts: TenantOptions = {}): Promise<Tenant> {
  const namespace = `cb-${process.pid}-${++seq}`;
  const secret = opts.secret ?? 'tailscale';
  const sa = 'tailscale';
  await c.core.createNamespace({ body: { metadata: { name: namespace } } });
  await c.core.createNamespacedServiceAccount({ namespace, body: upstreamManifest<k8s.V1ServiceAccount>('docs/k8s/sa.yaml', { SA_NAME: sa }) });
  const role = upstreamManifest<k8s.V1Role>('docs/k8s/role.yaml', { TS_KUBE_SECRET: secret });
  for (const d of opts.drop ?? []) {
    const rule = role.rules!.find((r) => r.resources?.includes('secrets') && Boolean(r.resourceNames?.length) === d.named)!;
    rule.verbs = rule.verbs.filter((v) => v !== d.verb);
  }
  role.rules = role.rules!.filter((r) => r.verbs.length > 0);
  await c.rbac.createNamespacedRole({ namespace, body: role });
  if (opts.binding !== false) {
    await c.rbac.createNamespacedRoleBinding({ namespace, body: upstreamManifest<k8s.V1RoleBinding>('docs/k8s/rolebinding.yaml', { SA_NAME: sa }) });
  }
  const saDir = path.join(dir, `sa-${namespace}`);
  let token = await mintToken(c, namespace, sa);
  writeServiceAccountDir(c, saDir, namespace, token);
  const clientFor = (t: string) => {
    const kc = new k8s.KubeConfig();
    const cl = c.kc.getCurrentCluster()!;
    kc.loadFromOptions({ clusters: [cl], users: [{ name: 'sa', token: t }], contexts: [{ name: 'sa', cluster: cl.name, user: 'sa' }], currentContext: 'sa' });
    return kc;
  };
  const t: Tenant = {
    namespace,
    secret,
    saDir,
    get token() { return token; },
    async read() {
      try {
        const s = await c.core.readNamespacedSecret({ name: secret, namespace });
        return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
    },
    async refreshToken(pid) {
      token = await mintToken(c, namespace, sa);
      writeServiceAccountDir(c, saDir, namespace, token);
      if (pid !== undefined) fs.writeFileSync(`/proc/${pid}/root/run/secrets/kubernetes.io/serviceaccount/token`, token);
      return token;
    },
    async can(verb, resource = 'secrets', name = secret) {
      const api = clientFor(token).makeApiClient(k8s.AuthorizationV1Api);
      const r = await api.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, resource, verb, ...(name ? { name } : {}) } } } });
      return r.status?.allowed === true;
    },
    client: (tk = token) => clientFor(tk).makeApiClient(k8s.CoreV1Api),
  };
  return t;
}
