// Collects the facts the planners judge, through Probes (host, firewall) and the kube client.
import path from 'node:path';
import { missingIptablesTools, usableVariant } from '../firewall/create.js';
import { variantFromVersion, type IptablesVariant } from '../firewall/iptables.js';
import { checkIPv6, iptablesHasIPv6NAT } from '../firewall/ipv6.js';
import { NotFoundError } from '../firewall/spawn.js';
import { explainMode, explainModeFromInstalledRules, type ModeDecision, type ModeDeps } from '../firewall/mode.js';
import { KubeClient } from '../kube/client.js';
import { apiServerURL, readServiceAccount, serviceAccountDir, TokenSource } from '../kube/inCluster.js';
import { checkPermission } from '../kube/permissions.js';
import { secretPath } from '../kube/secretBodies.js';
import { isNotFound, KubeAPIError } from '../kube/status.js';
import { errText } from '../log.js';
import type { BackendFact, BinaryFact, FirewallFacts, HostFacts, KubeFacts, SysctlFact } from './facts.js';
import { parseCapEff } from './hostChecks.js';
import { reviewsNeeded } from './kubeChecks.js';
import type { Probes } from './probes.js';
import type { DoctorView } from './view.js';

const SYSCTLS: [4 | 6, string, string][] = [
  [4, 'net.ipv4.ip_forward', 'proc/sys/net/ipv4/ip_forward'],
  [6, 'net.ipv6.conf.all.forwarding', 'proc/sys/net/ipv6/conf/all/forwarding'],
];

async function binary(p: Probes, name: 'tailscaled' | 'tailscale'): Promise<BinaryFact> {
  const where = p.which(name);
  if (where === undefined) return { name };
  try {
    const r = await p.run(name, name === 'tailscaled' ? ['--version'] : ['version']);
    const first = r.stdout.split('\n')[0]!.trim();
    if (r.code !== 0 || first === '') return { name, path: where, error: `exit ${r.code}: ${r.stderr.trim() || 'no output'}` };
    return { name, path: where, version: first };
  } catch (e) {
    return { name, path: where, error: (e as Error).message };
  }
}

export async function gatherHost(view: DoctorView, env: NodeJS.ProcessEnv, p: Probes): Promise<HostFacts> {
  const tunPath = path.join(view.root, 'dev/net/tun');
  const status = p.readFile('/proc/self/status');
  const sysctls: SysctlFact[] = SYSCTLS.map(([family, name, rel]) => {
    const file = path.join(view.root, rel);
    const r = p.readFile(file);
    if ('error' in r) return { family, name, path: file, readError: r.error };
    return { family, name, path: file, value: r.text.trim(), writeError: p.writeError(file) };
  });
  const dir = path.dirname(view.socket);
  let probe = dir;
  while (!p.exists(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  return {
    configErrors: p.settingsErrors(env),
    tunPath,
    tun: p.device(tunPath),
    capEff: 'text' in status ? parseCapEff(status.text) : undefined,
    sysctls,
    socket: { path: view.socket, dir, dirExists: probe === dir, writeError: p.writeError(probe), socketExists: p.exists(view.socket) },
    binaries: [await binary(p, 'tailscaled'), await binary(p, 'tailscale')],
  };
}

const countAppends = (out: string): number => out.split('\n').filter((l) => l.startsWith('-A')).length;

/** The tool's complaint in one line, without its `# Warning` and "Perhaps …upgraded" noise. */
export function oneLine(stderr: string): string {
  return stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('Perhaps iptables')).join('; ');
}

async function iptablesBackend(p: Probes, variant: 'legacy' | 'nft'): Promise<BackendFact> {
  const name = `iptables-${variant}` as const;
  let rules = 0;
  let usable = false;
  let error: string | undefined;
  for (const args of [['-t', 'nat', '-S'], ['-S']]) {
    try {
      const r = await p.run(name, args);
      if (r.code === 0) {
        rules += countAppends(r.stdout);
        if (args.length === 3) usable = true;
      } else {
        error ??= `${name} ${args.join(' ')}: exit ${r.code}: ${oneLine(r.stderr)}`;
      }
    } catch (e) {
      error ??= (e as Error).message;
      if (e instanceof NotFoundError) return { name, usable: false, rules: 0, error: error!, notInstalled: true };
    }
  }
  return usable ? { name, usable, rules } : { name, usable, rules, error: error ?? 'unknown error' };
}

export async function gatherFirewall(view: DoctorView, env: NodeJS.ProcessEnv, p: Probes): Promise<FirewallFacts> {
  if (view.fakeNetfilter) return { fake: true, backends: [], missingTools: [], ipv6Usable: false, ipv6NAT: false };
  const nft = p.nftRules();
  const backends: BackendFact[] = [
    await iptablesBackend(p, 'legacy'),
    await iptablesBackend(p, 'nft'),
    'rules' in nft ? { name: 'nftables', usable: true, rules: nft.rules } : { name: 'nftables', usable: false, rules: 0, error: nft.error },
  ];
  let v6: boolean | undefined;
  const ipv6 = async () => (v6 ??= await checkIPv6(p.run));
  // Boot's detection, with nft's create-and-delete probe replaced by the read-only listing.
  const deps: ModeDeps = {
    run: p.run,
    ipv6,
    nftProbe: () => { if ('error' in nft) throw new Error(nft.error); },
    nftRuleCount: () => ('rules' in nft ? nft.rules : 0),
  };
  const facts: FirewallFacts = { fake: false, backends, missingTools: [], ipv6Usable: await ipv6(), ipv6NAT: false };
  let decision: ModeDecision;
  try {
    decision = await explainMode(env, deps);
  } catch (e) {
    facts.decisionError = errText(e);
    return facts;
  }
  facts.decision = decision;
  facts.auto = (env.TS_DEBUG_FIREWALL_MODE ?? '') === 'auto' ? decision : await explainModeFromInstalledRules(deps);
  let variant: IptablesVariant | undefined;
  try {
    const ver = await p.run('iptables', ['--version']);
    if (ver.code === 0) variant = variantFromVersion(ver.stdout);
  } catch { /* no iptables program */ }
  facts.iptablesVariant = variant;
  if (decision.mode === 'nftables') {
    facts.ipv6NAT = facts.ipv6Usable && 'rules' in nft;
  } else if (variant !== undefined) {
    const use = usableVariant(variant);
    facts.missingTools = missingIptablesTools(use, 4);
    facts.ipv6NAT = (await iptablesHasIPv6NAT(p.run, facts.ipv6Usable)) && missingIptablesTools(use, 6).length === 0;
  }
  return facts;
}

/** Service account, API URL, every review and the Secret (only GET and SSARs: nothing is written). */
export async function gatherKube(view: DoctorView): Promise<KubeFacts | undefined> {
  if (!view.inKubernetes || view.kubeSecret === '') return undefined;
  const facts: KubeFacts = { saDir: serviceAccountDir(view.root), reviews: [] };
  let sa;
  let ts;
  try {
    sa = readServiceAccount(view.root);
    ts = new TokenSource(sa.tokenPath);
    await ts.get();
  } catch (e) {
    facts.serviceAccountError = errText(e);
    return facts;
  }
  facts.namespace = sa.namespace;
  try {
    facts.url = apiServerURL(view);
  } catch (e) {
    facts.urlError = errText(e);
    return facts;
  }
  const client = new KubeClient({ baseURL: facts.url, ca: sa.ca, tokens: ts, requestTimeoutMs: 5_000 });
  try {
    facts.reviews = await Promise.all(reviewsNeeded(view.kubeSecret).map(async (r) => {
      try {
        return { ...r, allowed: await checkPermission(client, sa.namespace, r.resource, r.verb, r.name) };
      } catch (e) {
        return { ...r, error: errText(e) };
      }
    }));
    if (facts.reviews.some((r) => r.allowed !== undefined)) {
      try {
        const s = await client.request<{ data?: Record<string, string> | null }>({ method: 'GET', path: secretPath(sa.namespace, view.kubeSecret) });
        facts.secret = { exists: true, keys: Object.keys(s?.data ?? {}) };
      } catch (e) {
        facts.secret = isNotFound(e) ? { exists: false, keys: [] } : { error: errText(e), ...(e instanceof KubeAPIError ? { status: e.code } : {}) };
      }
    }
  } finally {
    client.close();
  }
  return facts;
}
