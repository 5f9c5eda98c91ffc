// `--accept-dns` inside TS_EXTRA_ARGS overrides TS_ACCEPT_DNS (spec §1.4 step 4, upstream #16108).
import { parseGoBool } from './parse.js';

export interface AcceptDNSResult {
  extraArgs: string;
  acceptDNS: boolean | undefined;
  logs: string[];
}

export function extractAcceptDNS(extraArgs: string, acceptDNS: boolean | undefined): AcceptDNSResult {
  if (!extraArgs.includes('--accept-dns')) return { extraArgs, acceptDNS, logs: [] };
  const tokens = extraArgs.split(/\s+/).filter((t) => t !== '');
  const idx = tokens.findIndex((t) => t.startsWith('--accept-dns'));
  if (idx < 0) return { extraArgs, acceptDNS, logs: [] };
  const tok = tokens[idx];
  let value: boolean;
  if (tok === '--accept-dns') {
    value = true;
  } else {
    const parts = tok.split('=');
    if (parts.length !== 2 || parts[0] !== '--accept-dns') {
      return { extraArgs, acceptDNS, logs: ['TS_EXTRA_ARGS contains --accept-dns, but it is not in the expected format --accept-dns=<true|false>, ignoring it'] };
    }
    const parsed = parseGoBool(parts[1]);
    if (parsed === undefined) {
      return { extraArgs, acceptDNS, logs: [`TS_EXTRA_ARGS contains --accept-dns=${JSON.stringify(parts[1])}, which is not a valid boolean value, ignoring it`] };
    }
    value = parsed;
  }
  tokens.splice(idx, 1);
  const prev = acceptDNS ?? false;
  const logs: string[] = [];
  let next = acceptDNS;
  // Upstream only marks the value "set" when it differs from the previous effective value.
  if (value !== prev) {
    logs.push(`TS_EXTRA_ARGS contains --accept-dns=${value}, which overrides TS_ACCEPT_DNS=${prev}`);
    next = value;
  }
  return { extraArgs: tokens.join(' '), acceptDNS: next, logs };
}
