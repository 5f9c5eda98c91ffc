// `containerboot doctor`: run in the container to boot (same env, same mounts), it checks what boot
// needs and prints one line per finding. Read-only: no rule, sysctl or Secret is written (SSARs
// and GETs only). Exit 0 when nothing failed.
import { TAILSCALE_VERSION } from '../capver.js';
import { redact, registerRawSecrets } from '../log.js';
import { firewallLines } from './firewallChecks.js';
import { gatherFirewall, gatherHost, gatherKube } from './gather.js';
import { hostLines } from './hostChecks.js';
import { kubeLines } from './kubeChecks.js';
import { exitCode, formatLines, type Line } from './lines.js';
import { realProbes, type Probes } from './probes.js';
import { viewFromEnv } from './view.js';

const USAGE = 'usage: containerboot doctor\n' +
  'Checks, without changing anything, what containerboot needs in this container: configuration,\n' +
  'tun device and capabilities, forwarding sysctls, firewall backends, socket directory,\n' +
  'tailscaled/tailscale, and in Kubernetes the service account, API server, state Secret and RBAC.\n';

export interface DoctorDeps {
  probes?: Probes;
  /** Kubernetes facts (default: the real API server). */
  kube?: typeof gatherKube;
  write?: (text: string) => void;
}

/** All lines, in order: host, firewall, Kubernetes. */
export async function doctorLines(env: NodeJS.ProcessEnv, deps: DoctorDeps = {}): Promise<Line[]> {
  const probes = deps.probes ?? realProbes(env);
  const view = viewFromEnv(env);
  const [host, fw, kube] = await Promise.all([
    gatherHost(view, env, probes),
    gatherFirewall(view, env, probes),
    (deps.kube ?? gatherKube)(view),
  ]);
  return [...hostLines(view, host, TAILSCALE_VERSION), ...firewallLines(view, fw), ...kubeLines(view, kube)];
}

export async function doctor(argv: string[], env: NodeJS.ProcessEnv, deps: DoctorDeps = {}): Promise<number> {
  const write = deps.write ?? ((t: string) => void process.stdout.write(t));
  const args = argv;
  if (args.includes('-h') || args.includes('--help')) { write(USAGE); return 0; }
  if (args.length > 0) { process.stderr.write(`containerboot doctor: unexpected argument ${JSON.stringify(args[0])}\n${USAGE}`); return 2; }
  registerRawSecrets(env);
  const lines = await doctorLines(env, deps);
  write(redact(formatLines(lines)));
  return exitCode(lines);
}
