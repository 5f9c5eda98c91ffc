// The incremental netmap view containerboot keeps from the IPN bus (spec §3.4).
// Node IDs are int64 on the wire; they are kept as decimal strings so no precision is lost.

export interface NodeInfo {
  /** Numeric node ID as decimal text ("0" when absent). */
  id: string;
  stableID: string;
  /** MagicDNS FQDN with trailing dot, e.g. `node.tailnet.ts.net.`. */
  name: string;
  key: string;
  /** Own addresses as prefixes (`100.64.0.1/32`, `fd7a:…/128`). */
  addresses: string[];
  allowedIPs: string[];
}

export interface DNSRecord {
  Name: string;
  Type?: string;
  Value: string;
}

export interface NetmapState {
  self?: NodeInfo;
  peersByID: Map<string, NodeInfo>;
  /** Peers whose ID is 0, keyed by Name. */
  peersByName: Map<string, NodeInfo>;
  certDomains: string[];
  extraRecords: DNSRecord[];
}

export function emptyNetmap(): NetmapState {
  return { peersByID: new Map(), peersByName: new Map(), certDomains: [], extraRecords: [] };
}

/** All peers: ID-keyed first, then name-keyed (upstream's iteration order, §3.4). */
export function allPeers(s: NetmapState): NodeInfo[] {
  return [...s.peersByID.values(), ...s.peersByName.values()];
}

/** A netmap state "has a valid self node" when self exists with a non-empty stable ID or key. */
export function hasValidSelf(s: NetmapState): boolean {
  return s.self !== undefined && (s.self.stableID !== '' || s.self.id !== '0' || s.self.key !== '');
}
