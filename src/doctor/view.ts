// What the doctor needs to know about the configuration, even when it is invalid: the few values
// that decide where to look (root, socket, mode, Secret) are read with the settings' own parsing
// helpers; what boot would need (forwarding, firewall) comes from the validated Settings when
// there are any.
import { forwardingFamilies, needsForwarding } from '../proc/host.js';
import { settingsFromEnv } from '../settings/fromEnv.js';
import { lenientBool, orDefault } from '../settings/parse.js';
import { DEFAULT_SOCKET, isL3Proxy } from '../settings/types.js';

export interface Needs {
  /** IP families whose forwarding sysctl boot would set. */
  forwarding: { v4: boolean; v6: boolean };
  /** An L3 proxy or egress/ingress services: boot creates a firewall. */
  firewall: boolean;
}

export interface DoctorView {
  userspace: boolean;
  /** TS_TEST_ONLY_ROOT ('/' by default): prefix of dev/net/tun, proc/sys and the service-account files. */
  root: string;
  socket: string;
  inKubernetes: boolean;
  kubeSecret: string;
  fakeNetfilter: boolean;
  kubeReadAPIServerAddressFromEnv: boolean;
  kubernetesServiceHost: string;
  kubernetesServicePortHTTPS: string;
  /** undefined when the configuration is invalid: then kernel mode is assumed to need everything. */
  needs?: Needs;
  /** Boot's own error deciding the forwarding families (e.g. an unparsable TS_DEST_IP). */
  forwardingError?: string;
}

export function viewFromEnv(env: NodeJS.ProcessEnv): DoctorView {
  const get = (k: string) => env[k] ?? '';
  const inKubernetes = get('KUBERNETES_SERVICE_HOST') !== '';
  const view: DoctorView = {
    userspace: lenientBool(env.TS_USERSPACE, true),
    root: orDefault(env.TS_TEST_ONLY_ROOT, '/'),
    socket: orDefault(env.TS_SOCKET, DEFAULT_SOCKET),
    inKubernetes,
    kubeSecret: inKubernetes ? (env.TS_KUBE_SECRET ?? 'tailscale') : get('TS_KUBE_SECRET'),
    fakeNetfilter: lenientBool(env.TS_TEST_FAKE_NETFILTER, false),
    kubeReadAPIServerAddressFromEnv: get('TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV') === 'true',
    kubernetesServiceHost: get('KUBERNETES_SERVICE_HOST'),
    kubernetesServicePortHTTPS: get('KUBERNETES_SERVICE_PORT_HTTPS'),
  };
  let s;
  try { s = settingsFromEnv(env).settings; } catch { return view; /* reported by the configuration check */ }
  let forwarding = { v4: false, v6: false };
  try {
    if (needsForwarding(s)) forwarding = forwardingFamilies(s);
  } catch (err) {
    view.forwardingError = (err as Error).message;
  }
  view.needs = { forwarding, firewall: isL3Proxy(s) };
  return view;
}
