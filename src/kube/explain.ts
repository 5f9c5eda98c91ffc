// Turns permanent API errors into messages an operator can act on: which Secret, which verb, and
// the RBAC rule that would allow it.
import { doctorHint } from '../util/doctorHint.js';
import { KubeAPIError } from './status.js';

export function rbacRule(verb: string | string[], resource: string, name: string): string {
  const names = name === '' ? '' : `, resourceNames: ["${name}"]`;
  const verbs = (Array.isArray(verb) ? verb : [verb]).map((v) => `"${v}"`).join(', ');
  return `{apiGroups: [""], resources: ["${resource}"]${names}, verbs: [${verbs}]}`;
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
