// The HTTP servers of §6 (step 8): the deprecated health server and the local server. Probes and
// the egress pre-shutdown hook read the boot state when a request arrives.
import { errText, log } from '../log.js';
import { egressPreshutdownEnabled, localHealthEnabled, metricsEnabled } from '../settings/types.js';
import type { Route, RunningServer } from '../http/routes.js';
import type { BootDeps } from './deps.js';
import { Fatal, liveness, readiness, type BootState } from './state.js';

/** Starts the configured servers, adding each to `st.servers` as soon as it listens. */
export async function startHTTP(d: Pick<BootDeps, 's' | 'client' | 'metrics' | 'tasks' | 'lc'>, st: BootState): Promise<void> {
  const { s } = d;
  // node:http and the endpoints are loaded only when a server is configured (start-up RSS).
  if (s.healthCheckAddrPort === '' && !metricsEnabled(s) && !localHealthEnabled(s) && !egressPreshutdownEnabled(s)) return;
  const { debugRoute, healthRoute, metricsRoute, probeRoutes } = await import('../http/endpoints.js');
  const onError = (e: Error) => d.tasks.fail(new Fatal(`HTTP server failed: ${errText(e)}`));
  const health = healthRoute(() => st.healthy, s.podIPv4, s.podIPv6);
  if (s.healthCheckAddrPort !== '') {
    log(`Running healthcheck endpoint at ${s.healthCheckAddrPort}/healthz`);
    st.servers.push(await listen(s.healthCheckAddrPort, [health], onError));
  }
  const routes: Route[] = [];
  if (metricsEnabled(s)) {
    log(`Running metrics endpoint at ${s.localAddrPort}/metrics`);
    routes.push(metricsRoute(d.client, d.metrics), debugRoute(s.debugAddrPort));
  }
  if (localHealthEnabled(s)) {
    log(`Running healthcheck endpoint at ${s.localAddrPort}/healthz`);
    routes.push(health, ...probeRoutes({ live: () => liveness(st, d.lc.died.signal), ready: () => readiness(st) }));
  }
  if (egressPreshutdownEnabled(s)) {
    log(`Running egress preshutdown hook at ${s.localAddrPort}/internal-egress-services-preshutdown`);
    routes.push({
      path: '/internal-egress-services-preshutdown', method: 'GET', handler: async (req) => {
        const r = st.services?.preshutdownRoute;
        if (r) return r.handler(req);
        return { status: 200, body: 'safe to terminate', headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
      },
    });
  }
  if (routes.length > 0) st.servers.push(await listen(s.localAddrPort, routes, onError));
}

async function listen(addr: string, routes: Route[], onError: (e: Error) => void): Promise<RunningServer> {
  try {
    const { startServer } = await import('../http/server.js');
    return await startServer(addr, routes, onError);
  } catch (e) {
    throw new Fatal(`failed to listen on addr ${JSON.stringify(addr)}: ${errText(e)}`);
  }
}

export async function closeServers(st: BootState): Promise<void> {
  const servers = st.servers;
  st.servers = [];
  for (const srv of servers) {
    await srv.close();
    log(`HTTP server at ${srv.address} closed`);
  }
}
