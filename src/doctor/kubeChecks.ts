// Pure planner for the Kubernetes checks: service-account files, API reachability, the state
// Secret, one line per SelfSubjectAccessReview, and the Role that would grant what is missing.
import { rbacRule } from '../kube/explain.js';
import type { KubeFacts, ReviewFact } from './facts.js';
import { fail, ok, warn, type Line } from './lines.js';
import type { DoctorView } from './view.js';

/** The reviews boot depends on (spec §4.1, §4.2): the state Secret's four verbs and Events. */
export function reviewsNeeded(secret: string): Omit<ReviewFact, 'allowed' | 'error'>[] {
  return [
    ...['get', 'update', 'patch', 'create'].map((verb) => ({ resource: 'secrets' as const, verb, name: secret })),
    ...['get', 'create', 'patch'].map((verb) => ({ resource: 'events' as const, verb, name: '' })),
  ];
}

/**
 * A Role granting the denied reviews. Creates carry no object name, so `create` is granted
 * without resourceNames (a named rule would pass the review but not the real request).
 */
export function roleSnippet(namespace: string, denied: ReviewFact[]): string[] {
  const named = denied.filter((r) => r.resource === 'secrets' && r.verb !== 'create').map((r) => r.verb);
  const rules: string[] = [];
  if (named.length) rules.push(rbacRule(named, 'secrets', denied.find((r) => r.resource === 'secrets')!.name));
  if (denied.some((r) => r.resource === 'secrets' && r.verb === 'create')) rules.push(rbacRule('create', 'secrets', ''));
  const ev = denied.filter((r) => r.resource === 'events').map((r) => r.verb);
  if (ev.length) rules.push(rbacRule(ev, 'events', ''));
  return [
    'apiVersion: rbac.authorization.k8s.io/v1', 'kind: Role', 'metadata:', '  name: tailscale', `  namespace: ${namespace}`,
    'rules:', ...rules.map((r) => `- ${r}`),
    '# bind it to the pod\'s service account with a RoleBinding',
  ];
}

function reviewLine(r: ReviewFact, secretExists: boolean | undefined, hasAuthKey: boolean): Line {
  const what = r.name ? `${r.verb} ${r.resource}/${r.name}` : `${r.verb} ${r.resource}`;
  const check = `kube.rbac`;
  if (r.error !== undefined) return warn(check, `${what}: the review failed: ${r.error}`);
  if (r.allowed) return ok(check, `may ${what}`);
  const fix = 'apply the Role printed below (kube.role)';
  if (r.resource === 'events') return warn(check, `may not ${what}: tailscaled cannot record Events on the Pod (optional)`, fix);
  if (r.verb === 'get' || r.verb === 'update') return fail(check, `may not ${what}: boot fails (missing ${r.verb} permission on secret ${JSON.stringify(r.name)})`, fix);
  if (r.verb === 'patch') {
    const text = `may not ${what}: device information is not written to the Secret`;
    return hasAuthKey ? fail(check, `${text}, and boot fails because the Secret holds an authkey`, fix) : warn(check, text, fix);
  }
  // create
  if (secretExists === false) return fail(check, `may not ${what}: the Secret does not exist, so boot fails`, fix);
  return warn(check, `may not ${what}: needed only when the Secret is deleted`, fix);
}

export function kubeLines(view: DoctorView, f: KubeFacts | undefined): Line[] {
  if (!view.inKubernetes && view.kubeSecret === '') return [];
  if (view.kubeSecret === '') return [ok('kube', 'TS_KUBE_SECRET is empty: state is not kept in a Secret, no API access needed')];
  if (!view.inKubernetes) {
    return [fail('kube', `TS_KUBE_SECRET is ${JSON.stringify(view.kubeSecret)} but KUBERNETES_SERVICE_HOST is empty (not in Kubernetes)`,
      'set TS_KUBE_SECRET="" outside Kubernetes, and TS_STATE_DIR to a writable directory')];
  }
  if (!f) return [];
  const lines: Line[] = [];
  if (f.serviceAccountError !== undefined) {
    lines.push(fail('kube.serviceaccount', f.serviceAccountError, 'mount the service-account token (automountServiceAccountToken: true, or a projected volume)'));
    return lines;
  }
  lines.push(ok('kube.serviceaccount', `namespace "${f.namespace}", ca.crt and token in ${f.saDir}`));
  if (f.urlError !== undefined) {
    lines.push(fail('kube.api', f.urlError, 'set KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT_HTTPS as the kubelet does'));
    return lines;
  }
  const answered = f.reviews.filter((r) => r.allowed !== undefined).length;
  if (answered === 0) {
    const err = f.reviews.find((r) => r.error)?.error ?? 'no answer';
    const rejected = /\b401\b|Unauthorized/i.test(err);
    lines.push(rejected
      ? fail('kube.api', `${f.url} rejected the service-account token: ${err}`, 'check the token file and that the ServiceAccount still exists')
      : fail('kube.api', `${f.url} did not answer: ${err}`, 'check the network path to the API server (NetworkPolicy, proxy, DNS)'));
    return lines;
  }
  lines.push(ok('kube.api', `${f.url} answers (${answered} access reviews)`));
  const sec = f.secret;
  let exists: boolean | undefined;
  let hasAuthKey = false;
  if (sec && 'exists' in sec) {
    exists = sec.exists;
    hasAuthKey = sec.keys.includes('authkey');
  }
  lines.push(...f.reviews.map((r) => reviewLine(r, exists, hasAuthKey)));
  if (sec && 'error' in sec) {
    lines.push(fail('kube.secret', `reading Secret "${view.kubeSecret}": ${sec.error}`, sec.status === 403 ? 'apply the Role printed below (kube.role)' : 'check the API server'));
  } else if (exists) {
    lines.push(ok('kube.secret', `Secret "${view.kubeSecret}" exists (${sec && 'keys' in sec ? sec.keys.length : 0} keys${hasAuthKey ? ', with an authkey' : ''})`));
  } else if (exists === false) {
    const canCreate = f.reviews.find((r) => r.resource === 'secrets' && r.verb === 'create')?.allowed === true;
    lines.push(canCreate
      ? ok('kube.secret', `Secret "${view.kubeSecret}" does not exist yet; tailscaled creates it (create is allowed)`)
      : fail('kube.secret', `Secret "${view.kubeSecret}" does not exist and may not be created`, `create it (kubectl create secret generic ${view.kubeSecret}) or apply the Role printed below (kube.role)`));
  }
  const denied = f.reviews.filter((r) => r.allowed === false);
  if (denied.length) {
    lines.push({ ...warn('kube.role', `a Role granting the ${denied.length} missing permission(s) in namespace "${f.namespace}":`), detail: roleSnippet(f.namespace ?? 'default', denied) });
  }
  return lines;
}
