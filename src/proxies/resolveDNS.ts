// System-resolver lookups for TS_EXPERIMENTAL_DEST_DNS_NAME (§5.4): separate A and AAAA lookups,
// "not found" for one family tolerated, both empty is an error.
import { parseAddr } from '../util/netip.js';

export type DNSResolver = (name: string) => Promise<{ v4: string[]; v6: string[] }>;

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NODATA', 'EAI_NONAME']);

async function family(name: string, fam: 4 | 6): Promise<string[]> {
  try {
    // Loaded on the first lookup: only TS_EXPERIMENTAL_DEST_DNS_NAME resolves (start-up RSS).
    const { lookup } = await import('node:dns/promises');
    const res = await lookup(name, { family: fam, all: true });
    return res.map((r) => parseAddr(r.address).text);
  } catch (err) {
    if (NOT_FOUND.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw new Error(`error looking up IPv${fam} addresses: ${(err as Error).message}`);
  }
}

/** getaddrinfo-based lookup (honours /etc/hosts like Go's resolver). */
export const systemResolveDNS: DNSResolver = async (name) => ({ v4: await family(name, 4), v6: await family(name, 6) });

/** Resolves to the backend list (v4 then v6, canonical, deduplicated per family). */
export async function resolveBackends(resolver: DNSResolver, name: string): Promise<string[]> {
  const { v4, v6 } = await resolver(name);
  const all = [...new Set(v4.map((a) => parseAddr(a).text)), ...new Set(v6.map((a) => parseAddr(a).text))];
  if (all.length === 0) throw new Error(`no IPv4 or IPv6 addresses found for host: ${name}`);
  return all;
}
