// What the probes found: plain data, so the planners (hostChecks, firewallChecks, kubeChecks) are
// pure functions unit-tested without a kernel or a cluster.
import type { ModeDecision } from '../firewall/mode.js';
import type { IptablesVariant } from '../firewall/iptables.js';

export type DeviceFact =
  | { kind: 'char'; major: number; minor: number; openError?: string }
  | { kind: 'missing' }
  | { kind: 'other'; what: string }
  | { kind: 'error'; error: string };

export interface SysctlFact {
  family: 4 | 6;
  name: string;
  path: string;
  value?: string;
  readError?: string;
  /** Why it is not writable; undefined when writable. */
  writeError?: string;
}

export interface SocketFact {
  path: string;
  dir: string;
  dirExists: boolean;
  /** Why the socket directory (or, when missing, its nearest existing parent) is not writable. */
  writeError?: string;
  socketExists: boolean;
}

export interface BinaryFact {
  name: 'tailscaled' | 'tailscale';
  path?: string;
  version?: string;
  error?: string;
}

export interface HostFacts {
  configErrors: string[];
  tunPath: string;
  tun: DeviceFact;
  /** CapEff of this process; undefined when /proc/self/status could not be read. */
  capEff?: bigint;
  sysctls: SysctlFact[];
  socket: SocketFact;
  binaries: BinaryFact[];
}

export type BackendName = 'iptables-legacy' | 'iptables-nft' | 'nftables';

export interface BackendFact {
  name: BackendName;
  usable: boolean;
  /** Rules found (iptables: `-A` lines of the nat and filter tables; nftables: every rule). */
  rules: number;
  error?: string;
  /** The program is not installed (nothing to see, as opposed to a listing that failed). */
  notInstalled?: boolean;
}

export interface FirewallFacts {
  fake: boolean;
  backends: BackendFact[];
  /** What boot would pick with this environment. */
  decision?: ModeDecision;
  decisionError?: string;
  /** What TS_DEBUG_FIREWALL_MODE=auto would pick. */
  auto?: ModeDecision;
  /** What the plain `iptables` program is (from `iptables --version`); undefined when it cannot run. */
  iptablesVariant?: IptablesVariant;
  /** iptables tools boot would write with that are not on PATH. */
  missingTools: string[];
  ipv6Usable: boolean;
  /** IPv6 NAT for the mode boot would pick. */
  ipv6NAT: boolean;
}

export interface ReviewFact {
  resource: 'secrets' | 'events';
  verb: string;
  /** '' for reviews without a name. */
  name: string;
  allowed?: boolean;
  error?: string;
}

export interface KubeFacts {
  saDir: string;
  namespace?: string;
  serviceAccountError?: string;
  url?: string;
  urlError?: string;
  reviews: ReviewFact[];
  /** undefined when not asked (no service account or URL). */
  secret?: { exists: boolean; keys: string[] } | { error: string; status?: number };
}
