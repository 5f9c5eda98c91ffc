// Work for after `Running` that needs no netmap, started while tailscaled logs in (~2 s idle):
// the firewall (mode detection, libnftables, IPv6 checks, listing what is installed) and loading
// and warming the code of the configured parts. Nothing here logs or writes a rule; a failure is
// kept and reported where upstream would report it (step 19), so the log reads as upstream's.
import type { Firewall } from '../firewall/types.js';
import { isL3Proxy } from '../settings/types.js';
import type { BootDeps } from './deps.js';
import type { BootState } from './state.js';
import { setOnlyFlagsArgs } from '../plan/argv.js';
import { warmRunLoop } from './warmUp.js';

export interface Prepared {
  /** The firewall of an L3 proxy, being created; rejects with the creation error. */
  firewall?: Promise<Firewall>;
}

/**
 * Starts the preparation; call it once tailscaled answers on the bus, so that its own start-up
 * checks (firewall mode probe, IPv6 policy-rule test) are over and cannot race ours.
 */
export function prepareParts(d: Pick<BootDeps, 's' | 'c' | 'env'>, st: BootState): Prepared {
  const { s, c } = d;
  warmRunLoop();
  setOnlyFlagsArgs(s); // what postLogin computes first, once tailscale up has exited
  void c.preload?.(s).catch(() => undefined);
  if (!isL3Proxy(s)) return {};
  const firewall = (async () => {
    if (!c.createFirewall) throw new Error('firewall support is not built in');
    return c.createFirewall(d.env);
  })();
  // Recorded at once, so the shutdown routine closes it even if the boot ends before step 19.
  firewall.then((fw) => { if (st.shutdown) fw.close(); else st.firewall = fw; }, () => undefined);
  return { firewall };
}
