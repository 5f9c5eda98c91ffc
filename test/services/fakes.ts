// In-memory fakes for the services tests: a firewall that records batches and keeps the
// resulting rules per group, a state Secret in a Map, and netmap builders.
import type { Firewall, ProxyRule } from '../../src/firewall/types.js';
import type { KubeStateStore, SecretData } from '../../src/kube/facade.js';
import { emptyNetmap, type NetmapState, type NodeInfo } from '../../src/netmap/types.js';

export class FakeFirewall implements Firewall {
  readonly mode = 'fake' as const;
  readonly batches: Record<string, ProxyRule[]>[] = [];
  readonly groups = new Map<string, ProxyRule[]>();
  failNext: Error | undefined;
  constructor(public ipv6NAT = true) {}
  hasIPv6NAT(): boolean { return this.ipv6NAT; }
  removed = 0;
  async removeAll(): Promise<void> { this.removed++; this.groups.clear(); }
  async apply(groups: Record<string, ProxyRule[]>): Promise<void> {
    if (this.failNext) { const e = this.failNext; this.failNext = undefined; throw e; }
    this.batches.push(structuredClone(groups));
    for (const [g, r] of Object.entries(groups)) {
      if (r.length === 0) this.groups.delete(g); else this.groups.set(g, r);
    }
  }
  close(): void {}
  /** All installed rules of one kind, across groups. */
  rules<K extends ProxyRule['kind']>(kind: K): Extract<ProxyRule, { kind: K }>[] {
    return [...this.groups.values()].flat().filter((r): r is Extract<ProxyRule, { kind: K }> => r.kind === kind);
  }
}

export class FakeKube implements KubeStateStore {
  readonly data = new Map<string, string>();
  readonly replaces: [string, string][] = [];
  readonly patches: Record<string, string | null>[] = [];
  canPatch = true;
  exists = true;
  async setup(): Promise<never> { throw new Error('not used'); }
  async resetState(): Promise<void> {}
  async storeDeviceID(): Promise<void> {}
  async storeDeviceEndpoints(): Promise<void> {}
  async deleteAuthKey(): Promise<void> {}
  async waitConsistentState(): Promise<void> {}
  async patchKeys(data: Record<string, string | null>): Promise<void> {
    this.patches.push({ ...data });
    for (const [k, v] of Object.entries(data)) if (v === null) this.data.delete(k); else this.data.set(k, v);
  }
  async getSecret(): Promise<SecretData | undefined> {
    return this.exists ? Object.fromEntries(this.data) : undefined;
  }
  async replaceKey(key: string, value: string): Promise<void> {
    this.replaces.push([key, value]);
    this.data.set(key, value);
  }
}

export function node(name: string, addresses: string[], id = '0', allowedIPs = addresses): NodeInfo {
  return { id, stableID: id === '0' ? '' : `s${id}`, name, key: `nodekey:${name}`, addresses, allowedIPs };
}

export function netmap(selfAddrs: string[], peers: NodeInfo[] = []): NetmapState {
  const s = emptyNetmap();
  s.self = node('self.tailnetxyz.ts.net.', selfAddrs, '1');
  peers.forEach((p, i) => s.peersByID.set(p.id === '0' ? String(i + 100) : p.id, p));
  return s;
}

export function collectLogs(): { lines: string[]; log: (m: string) => void } {
  const lines: string[] = [];
  return { lines, log: (m) => lines.push(m) };
}

/** Polls `cond` until true (for watcher-driven tests); fails after `ms`. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
