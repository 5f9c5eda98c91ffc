// Applies one Notify to the incremental netmap view (spec §3.4). Pure: the `dns-config` refresh
// on SelfChange is done by the caller, which then calls applyDNSConfig.
import { idText } from '../localapi/json.js';
import type { NodeJSON, Notify, PeerStatusJSON } from '../localapi/notify.js';
import { tryParseAddr, singlePrefix } from '../util/netip.js';
import type { DNSRecord, NetmapState, NodeInfo } from './types.js';

function ipsToPrefixes(ips: string[] | null | undefined): string[] {
  const out: string[] = [];
  for (const ip of ips ?? []) {
    const a = tryParseAddr(ip);
    if (a) out.push(singlePrefix(a).text);
  }
  return out;
}

export function nodeFromPeerStatus(p: PeerStatusJSON): NodeInfo {
  return {
    id: idText(p.NodeID),
    stableID: p.ID ?? '',
    name: p.DNSName ?? '',
    key: p.PublicKey ?? '',
    addresses: ipsToPrefixes(p.TailscaleIPs),
    allowedIPs: [...(p.AllowedIPs ?? [])],
  };
}

export function nodeFromNode(n: NodeJSON): NodeInfo {
  return {
    id: idText(n.ID),
    stableID: n.StableID ?? '',
    name: n.Name ?? '',
    key: n.Key ?? '',
    addresses: [...(n.Addresses ?? [])],
    allowedIPs: [...(n.AllowedIPs ?? [])],
  };
}

function upsertPeer(s: NetmapState, node: NodeInfo): void {
  if (node.id !== '0') {
    s.peersByID.set(node.id, node);
    s.peersByName.delete(node.name);
  } else {
    s.peersByName.set(node.name, node);
  }
}

/** Mutates `s` with the netmap-relevant parts of `n`. */
export function applyNotify(s: NetmapState, n: Notify): void {
  const st = n.InitialStatus;
  if (st) {
    s.certDomains = [...(st.CertDomains ?? [])];
    s.extraRecords = [...(st.ExtraRecords ?? [])];
    if (st.Self) s.self = nodeFromPeerStatus(st.Self);
    const peers = Object.values(st.Peer ?? {});
    // An empty peer map leaves known peers intact (upstream behaviour).
    if (peers.length > 0) {
      s.peersByID = new Map();
      s.peersByName = new Map();
      for (const p of peers) upsertPeer(s, nodeFromPeerStatus(p));
    }
  }
  if (n.SelfChange) s.self = nodeFromNode(n.SelfChange);
  for (const p of n.PeersChanged ?? []) upsertPeer(s, nodeFromNode(p));
  for (const id of n.PeersRemoved ?? []) s.peersByID.delete(idText(id));
}

export interface DNSConfigJSON {
  CertDomains?: string[] | null;
  ExtraRecords?: DNSRecord[] | null;
}

/** Replaces extra records and cert domains from a `dns-config` answer (non-null body). */
export function applyDNSConfig(s: NetmapState, cfg: DNSConfigJSON | null | undefined): void {
  if (!cfg) return;
  s.extraRecords = [...(cfg.ExtraRecords ?? [])];
  s.certDomains = [...(cfg.CertDomains ?? [])];
}
