// Phase 5, the run loop (§3.3): one notification at a time until cancelled or failed. Keeps the
// netmap view and what was last stored in the Secret; records each outcome in the boot state.
import { errText, log } from '../log.js';
import type { BusWatch } from '../localapi/ipnbus.js';
import { triggersNetmapProcessing } from '../localapi/notify.js';
import { applyDNSConfig, applyNotify, type DNSConfigJSON } from '../netmap/update.js';
import { emptyNetmap, hasValidSelf, type NetmapState } from '../netmap/types.js';
import { healthServed, isL3Proxy } from '../settings/types.js';
import { backendState, readBus } from './bus.js';
import type { BootDeps } from './deps.js';
import { Fatal, setHealthy, type BootState } from './state.js';
import { monotonicMs } from '../util/lean.js';
import { noteWork } from '../proc/memoryUpkeep.js';

type LoopDeps = Pick<BootDeps, 's' | 'lc' | 'client' | 'tasks' | 'metrics'>;

export async function runLoop(d: LoopDeps, st: BootState, w: BusWatch): Promise<void> {
  const { s, lc } = d;
  const netmap = emptyNetmap();
  const kube = st.stateStore;
  let storedDeviceID: string | undefined;
  let storedEndpoints: string | undefined;
  for (;;) {
    const n = await readBus(d, w);
    applyNotify(netmap, n);
    if (n.SelfChange) await refreshDNSConfig(d, netmap);
    const state = backendState(d, n);
    if (state !== undefined && state !== 'Running') {
      throw new Fatal(`tailscaled left running state (now in state ${JSON.stringify(state)}), exiting`);
    }
    if (!triggersNetmapProcessing(n) || !hasValidSelf(netmap)) continue;
    const t0 = monotonicMs();
    let ok = false;
    try {
      const self = netmap.self!;
      if (kube && self.stableID !== storedDeviceID) {
        try { await kube.storeDeviceID(self.stableID, lc.life); } catch (e) {
          throw new Fatal(`storing device ID in Kubernetes Secret: ${errText(e)}`);
        }
        storedDeviceID = self.stableID;
      }
      if (st.proxies) await st.proxies.onNetmap(netmap);
      const endpointsKey = `${self.name}|${self.addresses.join(',')}`;
      if (kube && endpointsKey !== storedEndpoints) {
        const ips = self.addresses.map((p) => p.split('/')[0]);
        try { await kube.storeDeviceEndpoints(self.name, ips, lc.life); } catch (e) {
          throw new Fatal(`storing device IPs and FQDN in Kubernetes Secret: ${errText(e)}`);
        }
        storedEndpoints = endpointsKey;
      }
      setHealthy(st, self.addresses.length > 0, healthServed(s));
      if (st.services) await st.services.onNetmap(netmap);
      ok = true;
    } finally {
      st.lastReconcileOk = ok;
      d.metrics.observeReconcile((monotonicMs() - t0) / 1000, ok);
      noteWork();
    }
    if (st.stage === 'running' && (!isL3Proxy(s) || !kube || (storedDeviceID !== undefined && storedEndpoints !== undefined))) {
      st.stage = 'started';
      d.metrics.startupComplete = 1;
      log('Startup complete, waiting for shutdown signal');
      if (st.services) await st.services.onStartupComplete();
    }
  }
}

async function refreshDNSConfig(d: LoopDeps, netmap: NetmapState): Promise<void> {
  try {
    const cfg = await d.client.getJSON<DNSConfigJSON | null>('/localapi/v0/dns-config', d.lc.life);
    applyDNSConfig(netmap, cfg);
  } catch (e) {
    if (d.lc.life.aborted) throw e;
    log(`error refreshing DNS config from tailscaled: ${errText(e)}`);
  }
}
