// Turns permanent API errors into messages an operator can act on: which Secret, which verb, and
// the RBAC rule that would allow it.
import { doctorHint } from '../util/doctorHint.js';
import { KubeAPIError } from './status.js';

export function rbacRule(verb: string | string[], resource: string, name: string): string {
  const names = name === '' ? '' : `, resourceNames: ["${name}"]`;
  const verbs = (Array.isArray(verb) ? verb : [verb]).map((v) => `"${v}"`).join(', ');
  return `{apiGroups: [""], resources: ["${resource}"]${names}, verbs: [${verbs}]}`;
}

/** The service account a projected token belongs to (its JWT claims), or undefined for other tokens. */
export function tokenServiceAccount(token: string | undefined): { namespace: string; name: string } | undefined {
  const payload = token?.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    const m = typeof claims.sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub) : null;
    return m ? { namespace: m[1]!, name: m[2]! } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What to do when the boot permission check finds required verbs denied (appended to upstream's
 * message): the Secret, the namespace, the rule (missing verbs plus a denied patch) and a
 * RoleBinding to the service account, as kubectl commands.
 */
export function permissionHint(verbs: string[], namespace: string, secret: string, sa?: { namespace: string; name: string }): string {
  const who = sa ? `service account "${sa.name}"` : 'service account';
  const subject = sa ? `${sa.namespace}:${sa.name}` : `${namespace}:<service account>`;
  return `the ${who} may not ${verbs.join(', ')} Secret "${secret}" in namespace "${namespace}"; ` +
    `grant it a Role in namespace "${namespace}" with the rule ${rbacRule(verbs, 'secrets', secret)} and a RoleBinding, e.g. ` +
    `kubectl -n ${namespace} create role tailscale-state --verb=${verbs.join(',')} --resource=secrets --resource-name=${secret} && ` +
    `kubectl -n ${namespace} create rolebinding tailscale-state --role=tailscale-state --serviceaccount=${subject}`;
}

/**
 * Adds context to 403/422/404 answers for `verb` on Secret `name`; other errors are returned as is.
 * The server's own message stays in front so upstream's message suffixes are unchanged otherwise.
 */
export function explainSecretError(err: unknown, verb: string, namespace: string, name: string): unknown {
  if (!(err instanceof KubeAPIError)) return err;
  let extra = '';
  if (err.code === 403) {
    extra = `: the service account may not ${verb} Secret "${name}" in namespace "${namespace}"; grant it a Role with the rule ${rbacRule(verb, 'secrets', name)}${doctorHint('kube.rbac')}`;
  } else if (err.code === 422) {
    extra = `: the API server rejected the ${verb} of Secret "${name}" in namespace "${namespace}" as invalid`;
  } else if (err.code === 404 && verb !== 'get') {
    extra = `: Secret "${name}" in namespace "${namespace}" no longer exists`;
  } else {
    return err;
  }
  return new KubeAPIError(err.message + extra, err.code, err.httpStatus, err.reason);
}
