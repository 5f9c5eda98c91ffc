// The services the orchestrator starts (spec §3.3 steps 5.6, 5.12–5.14 and "Startup complete"):
// HA egress/ingress services, the serve-config watcher, Service auto-advertisement and the cert
// loops, behind the orchestrator's `Services` interface. Each part only exists when configured.
import type http from 'node:http';
import { textReply, type Route } from '../http/routes.js';
import { errText, log as defaultLog } from '../log.js';
import type { NetmapState } from '../netmap/types.js';
import type { Services, ServicesContext } from '../orchestrator.js';
import { autoAdvertisementEnabled, ServiceAdvertiser, unadvertiseServices } from './advertise.js';
import type { CertLoops } from './certs/loops.js';
import type { EgressServices } from './egress/runner.js';
import type { IngressServices } from './ingress/runner.js';
import { NO_HTTPS, serviceNames } from './serve/config.js';
import type { ServeConfigWatcher } from './serve/watcher.js';
import { SyncLoop } from './syncLoop.js';

// The parts below are imported only when configured: they pull in chokidar and HTTPS clients, and a
// plain proxy should not pay their memory (RSS budget, docs/PERFORMANCE.md).

export interface CreateServicesOptions {
  /** Environment for TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT (default process.env). */
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
  /** Shutdown wait after unadvertising (upstream 20 s), bounded by the shutdown signal. */
  unadvertiseWaitMs?: number;
}

/** Ends when the client goes away, so the pre-shutdown hook stops with its caller. */
function requestSignal(req: http.IncomingMessage): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const onClose = (): void => ac.abort();
  req.socket.once('close', onClose);
  return { signal: ac.signal, done: () => req.socket.off('close', onClose) };
}

export async function createServices(ctx: ServicesContext, opts: CreateServicesOptions = {}): Promise<Services> {
  const s = ctx.settings;
  const log = opts.log ?? defaultLog;
  const autoAdvertise = autoAdvertisementEnabled(opts.env ?? process.env);
  const advertiser = autoAdvertise ? new ServiceAdvertiser(ctx.client) : undefined;
  let netmap: NetmapState | undefined;

  // Auto-advertisement from tailscaled's serve config, refreshed after netmaps without blocking
  // the run loop; bursts of netmaps coalesce into one GET (+ a PATCH only if the set changed).
  const advertiseLoop = advertiser === undefined ? undefined : new SyncLoop(async () => {
    const ticket = advertiser.observe();
    let cfg: unknown;
    try {
      cfg = await ctx.client.getJSON('/localapi/v0/serve-config');
    } catch (e) {
      throw new Error(`autoadvertisement: failed to get serve config: ${errText(e)}`);
    }
    await advertiser.ensure(serviceNames(cfg as Record<string, unknown> | null), undefined, ticket);
  });
  void advertiseLoop?.failed.then((e) => ctx.fail(e));
  const triggerAdvertise = (): void => advertiseLoop?.trigger();

  let certs: CertLoops | undefined;
  if (s.certShareMode === 'rw' && s.serveConfigPath !== '') {
    const { busWaitForDomain, CertLoops } = await import('./certs/loops.js');
    certs = new CertLoops({ client: ctx.client, waitForDomain: busWaitForDomain(ctx.client, log), log });
  }
  let serve: ServeConfigWatcher | undefined;
  if (s.serveConfigPath !== '') {
    const { ServeConfigWatcher } = await import('./serve/watcher.js');
    serve = new ServeConfigWatcher({ settings: s, client: ctx.client, kube: ctx.kube, advertiser, certs, log });
  }
  void serve?.failed.then((e) => ctx.fail(e));
  let serveStarted = false;

  let egress: EgressServices | undefined;
  let ingress: IngressServices | undefined;

  const preshutdownRoute: Route | undefined = s.egressProxiesCfgPath === '' ? undefined : {
    path: '/internal-egress-services-preshutdown', method: 'GET',
    handler: async (req) => {
      const { signal, done } = requestSignal(req);
      try {
        const { egressPreshutdown } = await import('./egress/preshutdown.js');
        const r = await egressPreshutdown({ settings: s, signal, log });
        if (r.status !== 200) return textReply(r.status, `${r.body}\n`);
        return r.body === '' ? { status: 200, body: '' } : { status: 200, body: r.body, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
      } finally {
        done();
      }
    },
  };

  return {
    preshutdownRoute,

    async onNetmap(state: NetmapState): Promise<void> {
      netmap = state;
      if (serve !== undefined) {
        serve.setCertDomain(state.certDomains[0] ?? NO_HTTPS);
        if (!serveStarted) {
          serveStarted = true;
          void serve.start();
        }
      }
      // Next turn of the event loop: the GET is background work, so the run loop's own step (and on
      // the first netmap its "Startup complete") comes first instead of waiting for the request's set-up.
      if (advertiseLoop) setImmediate(triggerAdvertise);
      egress?.onNetmap(state);
    },

    async onStartupComplete(): Promise<void> {
      if (s.egressProxiesCfgPath !== '') {
        log(`configuring egress proxy using configuration file at ${s.egressProxiesCfgPath}`);
        if (ctx.firewall === undefined) return ctx.fail(new Error('egress proxy failed: no firewall'));
        const { EgressServices } = await import('./egress/runner.js');
        egress = new EgressServices({ settings: s, firewall: ctx.firewall, kube: ctx.kube, log });
        void egress.failed.then((e) => ctx.fail(new Error(`egress proxy failed: ${e.message}`)));
        void egress.start(netmap!);
      }
      if (s.ingressProxiesCfgPath !== '') {
        log(`configuring ingress proxy using configuration file at ${s.ingressProxiesCfgPath}`);
        log('starting ingress proxy...');
        if (ctx.firewall === undefined) return ctx.fail(new Error('ingress proxy failed: no firewall'));
        const { IngressServices } = await import('./ingress/runner.js');
        ingress = new IngressServices({ settings: s, firewall: ctx.firewall, kube: ctx.kube, log });
        void ingress.failed.then((e) => ctx.fail(new Error(`ingress proxy failed: ${e.message}`)));
        void ingress.start();
      }
    },

    async onShutdown(signal: AbortSignal): Promise<void> {
      await unadvertiseServices(ctx.client, signal, { log, waitMs: opts.unadvertiseWaitMs });
    },

    close(): void {
      advertiseLoop?.stop();
      void serve?.close();
      certs?.close();
      void egress?.close();
      void ingress?.close();
    },
  };
}
