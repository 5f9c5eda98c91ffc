// The parts of ipn.Notify containerboot reads (localapi.md §1.5.1), and state extraction (spec §3.2).

export const STATE_NAMES = ['NoState', 'InUseOtherUser', 'NeedsLogin', 'NeedsMachineAuth', 'Stopped', 'Starting', 'Running'] as const;
export type StateName = (typeof STATE_NAMES)[number];

export interface PeerStatusJSON {
  ID?: string;
  NodeID?: number | string;
  PublicKey?: string;
  DNSName?: string;
  TailscaleIPs?: string[] | null;
  AllowedIPs?: string[] | null;
}

export interface StatusJSON {
  BackendState?: string;
  CertDomains?: string[] | null;
  ExtraRecords?: { Name: string; Type?: string; Value: string }[] | null;
  Self?: PeerStatusJSON | null;
  Peer?: Record<string, PeerStatusJSON> | null;
}

export interface NodeJSON {
  ID?: number | string;
  StableID?: string;
  Name?: string;
  Key?: string;
  Addresses?: string[] | null;
  AllowedIPs?: string[] | null;
}

export interface Notify {
  Version?: string;
  ErrMessage?: string | null;
  LoginFinished?: unknown;
  State?: number | null;
  Prefs?: unknown;
  InitialStatus?: StatusJSON | null;
  SelfChange?: NodeJSON | null;
  NetMap?: unknown;
  PeersChanged?: NodeJSON[] | null;
  PeersRemoved?: (number | string)[] | null;
  PeerChangedPatch?: unknown[] | null;
  BrowseToURL?: string | null;
  Health?: { Warnings?: Record<string, unknown> | null } | null;
}

/** Effective state: `State` if present, else InitialStatus.BackendState if valid. */
export function effectiveState(n: Notify): StateName | undefined {
  if (typeof n.State === 'number') return STATE_NAMES[n.State];
  const bs = n.InitialStatus?.BackendState;
  if (bs && (STATE_NAMES as readonly string[]).includes(bs)) return bs as StateName;
  return undefined;
}

/** Whether this notification triggers netmap processing (spec §3.3 step 3). */
export function triggersNetmapProcessing(n: Notify): boolean {
  return !!n.InitialStatus || !!n.SelfChange || (n.PeersChanged?.length ?? 0) > 0 ||
    (n.PeersRemoved?.length ?? 0) > 0 || (n.PeerChangedPatch?.length ?? 0) > 0;
}

export function hasLoginStateWarning(n: Notify): boolean {
  const w = n.Health?.Warnings;
  return !!w && Object.prototype.hasOwnProperty.call(w, 'login-state');
}
