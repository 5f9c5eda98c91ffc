// Per-netmap FQDN target resolution for egress services. The full resolver (peer, Tailscale
// Service, 4via6; spec §5.3.1) is linear in the number of peers; with hundreds of services a
// netmap would cost services × peers. Peer names are indexed once per netmap instead: the peer
// match is the resolver's first rule, so answering it from the index gives the same result.
import type { NetmapState } from '../../netmap/types.js';
import { allPeers } from '../../netmap/types.js';

export type FullResolver = (state: NetmapState, fqdn: string) => string[];

/** Memoized resolver bound to one netmap; errors are memoized too (rethrown). */
export function targetResolverFor(state: NetmapState, full: FullResolver): (fqdn: string) => string[] {
  let index: Map<string, string[]> | undefined;
  const memo = new Map<string, string[] | Error>();
  return (fqdn) => {
    let r = memo.get(fqdn);
    if (r === undefined) {
      if (index === undefined) {
        index = new Map();
        for (const p of allPeers(state)) {
          const k = p.name.toLowerCase();
          if (!index.has(k)) index.set(k, p.addresses);
        }
      }
      const key = (fqdn.endsWith('.') ? fqdn : `${fqdn}.`).toLowerCase();
      const hit = index.get(key);
      if (hit !== undefined && hit.length > 0) r = [...hit];
      else {
        try { r = full(state, fqdn); } catch (e) { r = e instanceof Error ? e : new Error(String(e)); }
      }
      memo.set(fqdn, r);
    }
    if (r instanceof Error) throw r;
    return r;
  };
}
