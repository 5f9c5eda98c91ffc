// Kernel-mode host preparation: the tun device node and IP forwarding sysctls (spec §2.1 step 2, §5.1),
// all under TS_TEST_ONLY_ROOT.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAddr, parsePrefix } from '../util/netip.js';
import type { Settings } from '../settings/types.js';
import { doctorHint } from '../util/doctorHint.js';
import { loadLibc } from './libc.js';

export function ensureTunDevice(root: string): void {
  const dir = path.join(root, 'dev/net');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tun = path.join(dir, 'tun');
  if (existsSync(tun)) return;
  const libc = loadLibc();
  // S_IFCHR | 0600, major 10 minor 200 (makedev for small numbers: major<<8 | minor).
  if (libc.mknod(tun, 0o020000 | 0o600, BigInt((10 << 8) | 200)) !== 0) {
    throw new Error(`mknod ${tun}: errno ${libc.errno()}${doctorHint('tun')}`);
  }
}

/** Which IP families need forwarding, from env alone (not the netmap). */
export function forwardingFamilies(s: Settings): { v4: boolean; v6: boolean } {
  const need = { v4: false, v6: false };
  if (s.proxyTargetIP !== '') {
    let a;
    try { a = parseAddr(s.proxyTargetIP); } catch (e) { throw new Error(`invalid cluster destination IP: ${(e as Error).message}`); }
    if (a.family === 4) need.v4 = true; else need.v6 = true;
  }
  if (s.tailnetTargetIP !== '') {
    let a;
    try { a = parseAddr(s.tailnetTargetIP); } catch (e) { throw new Error(`invalid tailnet destination IP: ${(e as Error).message}`); }
    if (a.family === 4) need.v4 = true; else need.v6 = true;
  }
  if (s.tailnetTargetFQDN !== '') need.v4 = true;
  if (s.routes !== undefined && s.routes !== '') {
    for (const r of s.routes.split(',')) {
      let p;
      try { p = parsePrefix(r); } catch (e) { throw new Error(`invalid subnet route: ${(e as Error).message}`); }
      if (p.addr.family === 4) need.v4 = true; else need.v6 = true;
    }
  }
  return need;
}

export function needsForwarding(s: Settings): boolean {
  return s.proxyTargetIP !== '' || s.proxyTargetDNSName !== '' || s.routes !== undefined ||
    s.tailnetTargetIP !== '' || s.tailnetTargetFQDN !== '';
}

function enable(file: string): void {
  let cur: string;
  try { cur = readFileSync(file, 'utf8'); } catch (e) { throw new Error(`reading ${JSON.stringify(file)}: ${(e as Error).message}${doctorHint('forwarding')}`); }
  if (cur.trim() === '1') return;
  try { writeFileSync(file, '1'); } catch (e) { throw new Error(`enabling ${JSON.stringify(file)}: ${(e as Error).message}${doctorHint('forwarding')}`); }
}

/** Turns on forwarding for the given families under `root` (errors name the sysctl file). */
export function enableForwarding(root: string, families: (4 | 6)[]): void {
  for (const f of families) {
    enable(path.join(root || '/', f === 4 ? 'proc/sys/net/ipv4/ip_forward' : 'proc/sys/net/ipv6/conf/all/forwarding'));
  }
}

export function ensureIPForwarding(root: string, s: Settings): void {
  const need = forwardingFamilies(s);
  enableForwarding(root, [...(need.v4 ? [4 as const] : []), ...(need.v6 ? [6 as const] : [])]);
}
