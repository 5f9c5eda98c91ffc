// Type checks for the Notify fields containerboot reads, done where Go's json.Decoder would do
// them: at decode time. A wrong type ends the watch with Go's error shape (`json: cannot
// unmarshal …`) instead of surfacing later as a TypeError in the netmap code. Unknown fields
// and fields containerboot does not read are not checked (Go ignores the former).
import type { Notify } from './notify.js';

type Kind = 'string' | 'number' | 'bool' | 'object' | 'array' | 'null';

function kindOf(v: unknown): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v as Kind;
}

/** int64: a safe integer, or the decimal text parseJSONLossless keeps for larger ones. */
function isInt64(v: unknown): boolean {
  return typeof v === 'number' ? Number.isInteger(v) : typeof v === 'string' && /^-?\d+$/.test(v);
}

class Shape {
  constructor(private readonly where: string) {}

  private fail(v: unknown, field: string, goType: string): never {
    throw new Error(`json: cannot unmarshal ${kindOf(v)} into Go struct field ${this.where}.${field} of type ${goType}`);
  }

  str(o: Record<string, unknown>, f: string): void {
    const v = o[f];
    if (v !== undefined && v !== null && typeof v !== 'string') this.fail(v, f, 'string');
  }

  int(o: Record<string, unknown>, f: string, goType: string): void {
    const v = o[f];
    if (v !== undefined && v !== null && !isInt64(v)) this.fail(v, f, goType);
  }

  strings(o: Record<string, unknown>, f: string, goType = '[]string'): void {
    const v = o[f];
    if (v === undefined || v === null) return;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(v, f, goType);
  }

  obj(o: Record<string, unknown>, f: string, goType: string): Record<string, unknown> | undefined {
    const v = o[f];
    if (v === undefined || v === null) return undefined;
    if (kindOf(v) !== 'object') this.fail(v, f, goType);
    return v as Record<string, unknown>;
  }

  objects(o: Record<string, unknown>, f: string, goType: string): Record<string, unknown>[] {
    const v = o[f];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => kindOf(x) !== 'object')) this.fail(v, f, goType);
    return v as Record<string, unknown>[];
  }
}

interface StructSpec { where: string; ints: Record<string, string>; strs: string[]; lists: Record<string, string> }

const NODE: StructSpec = { where: 'Node', ints: { ID: 'tailcfg.NodeID' }, strs: ['StableID', 'Name', 'Key'], lists: { Addresses: '[]netip.Prefix', AllowedIPs: '[]netip.Prefix' } };
const PEER_STATUS: StructSpec = {
  where: 'PeerStatus', ints: { NodeID: 'tailcfg.NodeID' }, strs: ['ID', 'PublicKey', 'DNSName'],
  lists: { TailscaleIPs: '[]netip.Addr', AllowedIPs: '*views.Slice[netip.Prefix]' },
};

function checkStruct(o: Record<string, unknown>, spec: StructSpec): void {
  const s = new Shape(spec.where);
  for (const [f, t] of Object.entries(spec.ints)) s.int(o, f, t);
  for (const f of spec.strs) s.str(o, f);
  for (const [f, t] of Object.entries(spec.lists)) s.strings(o, f, t);
}

/** Checks a decoded bus line; `null` decodes to an empty notification, as in Go. */
export function decodeNotify(v: unknown): Notify {
  if (v === null) return {};
  if (kindOf(v) !== 'object') throw new Error(`json: cannot unmarshal ${kindOf(v)} into Go value of type ipn.Notify`);
  const n = v as Record<string, unknown>;
  const s = new Shape('Notify');
  s.str(n, 'Version');
  s.str(n, 'ErrMessage');
  s.int(n, 'State', 'ipn.State');
  const st = s.obj(n, 'InitialStatus', 'ipnstate.Status');
  if (st) {
    const ss = new Shape('Status');
    ss.str(st, 'BackendState');
    ss.strings(st, 'CertDomains');
    for (const r of ss.objects(st, 'ExtraRecords', '[]tailcfg.DNSRecord')) {
      const rs = new Shape('DNSRecord');
      for (const f of ['Name', 'Type', 'Value']) rs.str(r, f);
    }
    const self = ss.obj(st, 'Self', 'ipnstate.PeerStatus');
    if (self) checkStruct(self, PEER_STATUS);
    const peers = ss.obj(st, 'Peer', 'map[key.NodePublic]*ipnstate.PeerStatus');
    for (const p of Object.values(peers ?? {})) {
      if (p === null) continue;
      if (kindOf(p) !== 'object') throw new Error(`json: cannot unmarshal ${kindOf(p)} into Go value of type ipnstate.PeerStatus`);
      checkStruct(p as Record<string, unknown>, PEER_STATUS);
    }
  }
  const self = s.obj(n, 'SelfChange', 'tailcfg.Node');
  if (self) checkStruct(self, NODE);
  for (const p of s.objects(n, 'PeersChanged', '[]*tailcfg.Node')) checkStruct(p, NODE);
  const removed = n.PeersRemoved;
  if (removed !== undefined && removed !== null) {
    const bad = Array.isArray(removed) ? removed.find((x) => !isInt64(x)) : removed;
    if (bad !== undefined) throw new Error(`json: cannot unmarshal ${kindOf(bad)} into Go struct field Notify.PeersRemoved of type []tailcfg.NodeID`);
  }
  const pcp = n.PeerChangedPatch;
  if (pcp !== undefined && pcp !== null && !Array.isArray(pcp)) throw new Error(`json: cannot unmarshal ${kindOf(pcp)} into Go struct field Notify.PeerChangedPatch of type []*tailcfg.PeerChange`);
  const h = s.obj(n, 'Health', 'health.State');
  if (h) new Shape('State').obj(h, 'Warnings', 'map[health.WarnableCode]health.UnhealthyState');
  return n as Notify;
}
