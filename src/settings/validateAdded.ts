// Checks this project adds to upstream's validation (docs/COMPATIBILITY.md): values upstream only
// rejects later — at the IP-forwarding step or in `tailscale up`, after tailscaled was spawned — are
// rejected up front, naming the variable. They run after upstream's rules, so an input upstream
// rejects is still reported with upstream's message first.
import { addrFromBytes, parseAddr, parsePrefix, type Prefix } from '../util/netip.js';
import { isOneStepConfig, type Settings } from './types.js';

function addrError(name: string, v: string): string | undefined {
  if (v === '') return undefined;
  try { parseAddr(v); return undefined; } catch (e) {
    return `error parsing ${name} value ${JSON.stringify(v)}: ${(e as Error).message}`;
  }
}

/** Go's Prefix.Masked().String(): the address with the bits after the prefix length cleared. */
function maskedText(p: Prefix): string {
  const bytes = Uint8Array.from(p.addr.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, p.bits - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return `${addrFromBytes(bytes).text}/${p.bits}`;
}

const VIA_RANGE = parsePrefix('fd7a:115c:a1e0:b1a::/64');

function inVia(p: Prefix): boolean {
  if (p.addr.family !== 6) return false;
  return VIA_RANGE.addr.bytes.subarray(0, 8).every((x, i) => p.addr.bytes[i] === x);
}

/** The error `tailscale up --advertise-routes=<routes>` v1.102.3 would report, or undefined. */
export function advertiseRoutesError(routes: string): string | undefined {
  if (routes === '') return undefined;
  let default4 = false, default6 = false;
  for (const r of routes.split(',')) {
    let p: Prefix;
    try { p = parsePrefix(r); } catch { return `${JSON.stringify(r)} is not a valid IP address or CIDR prefix`; }
    const m = maskedText(p);
    if (m !== p.text) return `${p.text} has non-address bits set; expected ${m}`;
    if (inVia(p)) {
      if (p.bits < 96) return `${p.text} 4-in-6 prefix must be at least a /96`;
      const site = ((p.addr.bytes[8] << 24) | (p.addr.bytes[9] << 16) | (p.addr.bytes[10] << 8) | p.addr.bytes[11]) >>> 0;
      if (site > 0xffff) return `route ${p.text} contains invalid site ID ${site.toString(16).padStart(8, '0')}; must be 0xffff or less`;
    }
    if (p.text === '0.0.0.0/0') default4 = true;
    if (p.text === '::/0') default6 = true;
  }
  if (default4 && !default6) return '0.0.0.0/0 advertised without its IPv6 counterpart, please also advertise ::/0';
  if (default6 && !default4) return '::/0 advertised without its IPv4 counterpart, please also advertise 0.0.0.0/0';
  return undefined;
}

/** Whether `v` is an absolute http(s) URL with a host, as the control server URL must be. */
export function isControlURL(v: string): boolean {
  if (!/^https?:\/\/[^\s/?#]\S*$/i.test(v)) return false;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Every added check that fails, in a fixed order (messages without `invalid configuration: `). */
export function addedValidationErrors(s: Settings): string[] {
  const errors: string[] = [];
  const push = (e: string | undefined) => { if (e !== undefined) errors.push(e); };
  push(addrError('TS_DEST_IP', s.proxyTargetIP));
  push(addrError('TS_TAILNET_TARGET_IP', s.tailnetTargetIP));
  if (s.routes !== undefined) {
    const e = advertiseRoutesError(s.routes);
    if (e) errors.push(`error parsing TS_ROUTES value ${JSON.stringify(s.routes)}: ${e}`);
  }
  if (s.loginServer !== '' && !isControlURL(s.loginServer)) {
    errors.push(`error parsing TS_LOGIN_SERVER value ${JSON.stringify(s.loginServer)}: expected an absolute http:// or https:// URL such as https://headscale.example.com`);
  }
  if (s.loginServer !== '' && isOneStepConfig(s)) {
    errors.push('TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR cannot be set in combination with TS_LOGIN_SERVER: in one-step mode the control server is the ServerURL of the tailscaled config file');
  }
  return errors;
}
