// Phase 4, post-login set-up (§2.1 steps 14–19): `tailscale set`, the serve-config reset, the
// authkey deletion, bus watch #3, the one-step config watch, and the parts the run loop feeds
// (firewall and singleton proxies for L3 proxies, services).
import { errText, log } from '../log.js';
import type { KubeStateStore } from '../kube/facade.js';
import { MASK_RUN, type BusWatch } from '../localapi/ipnbus.js';
import { setArgs, setOnlyFlagsArgs } from '../plan/argv.js';
import { runTailscaleCLI } from '../proc/cli.js';
import { isL3Proxy, isOneStepConfig, isTwoStepConfigAlwaysAuth, type Settings } from '../settings/types.js';
import { openWatch } from './bus.js';
import type { BootDeps } from './deps.js';
import type { Prepared } from './prepare.js';
import { Fatal, type BootState } from './state.js';

/**
 * True when steps 14–17 do nothing for these settings (no `tailscale set`, no serve-config reset,
 * no authkey deletion), so watch #3 would be opened right after watch #2 says Running: the login
 * phase may then request it while `tailscale up` still runs (upWatch.ts).
 */
export function runWatchFollowsLogin(s: Settings): boolean {
  return isTwoStepConfigAlwaysAuth(s) && s.serveConfigPath === '' && setOnlyFlagsArgs(s) === undefined;
}

/** Steps 14–18; returns watch #3 for the run loop (`early`: the one login opened, if any). */
export async function postLogin(d: BootDeps, stateStore: KubeStateStore | undefined, early?: Promise<BusWatch>): Promise<BusWatch> {
  const { s } = d;
  const life = d.lc.life;
  if (!isOneStepConfig(s) && s.authOnce) {
    log("Running 'tailscale set'");
    try { await runTailscaleCLI(setArgs(s), life); } catch (e) {
      if (life.aborted) throw e;
      throw new Fatal(`failed to auth tailscale: tailscale set failed: ${errText(e)}`);
    }
  } else if (!isOneStepConfig(s)) {
    const extra = setOnlyFlagsArgs(s);
    if (extra) {
      log("Running 'tailscale set' for TS_EXTRA_ARGS flags that 'tailscale up' does not accept");
      try { await runTailscaleCLI(extra, life); } catch (e) {
        if (life.aborted) throw e;
        throw new Fatal(`failed to apply TS_EXTRA_ARGS with tailscale set: ${errText(e)}`);
      }
    }
  }
  if (s.serveConfigPath !== '') {
    log('serve proxy: unsetting previous config');
    try { await d.client.sendJSON('POST', '/localapi/v0/serve-config', {}, life, { 'If-Match': '' }); } catch (e) {
      if (life.aborted) throw e;
      throw new Fatal(`failed to unset serve config: ${errText(e)}`);
    }
  }
  if (stateStore && s.authOnce) {
    log('Deleting authkey from Kubernetes Secret');
    try { await stateStore.deleteAuthKey(life); } catch (e) {
      throw new Fatal(`deleting authkey from Kubernetes Secret: ${errText(e)}`);
    }
  }
  const w = await (early ?? openWatch(d, MASK_RUN, life));
  if (isOneStepConfig(s) && d.c.watchConfig) {
    // Armed before the run loop, so a config swap right after "Startup complete" is not missed.
    let ready!: () => void;
    const armed = new Promise<void>((r) => { ready = r; });
    const watching = d.c.watchConfig({ settings: s, client: d.client, signal: life, onReady: () => ready() })
      .catch((e) => d.tasks.fail(new Fatal(`failed to watch tailscaled config: ${errText(e)}`)));
    await Promise.race([armed, watching]);
  }
  return w;
}

/**
 * Step 19 and the services: creates what the run loop feeds (the firewall was prepared earlier). Each part is recorded in `st` as soon
 * as it exists, so the shutdown routine closes it even when a later one fails.
 */
export async function startParts(d: BootDeps, st: BootState, prepared: Prepared): Promise<void> {
  const { s, c } = d;
  if (isL3Proxy(s)) {
    let firewall;
    try {
      if (!prepared.firewall) throw new Error('firewall support is not built in');
      // Created during the login wait (prepare.ts); its error, if any, is reported here as upstream's.
      firewall = st.firewall = await prepared.firewall;
    } catch (e) {
      throw new Fatal(`error creating new netfilter runner: ${errText(e)}`);
    }
    if (c.createProxies) st.proxies = await c.createProxies(s, firewall, d.tasks.fail);
  }
  if (c.createServices) {
    st.services = await c.createServices({ settings: s, client: d.client, kube: st.stateStore, firewall: st.firewall, fail: d.tasks.fail });
  }
}
