// The egress pre-shutdown hook (spec §7.1.5), mounted by the HTTP server at
// GET /internal-egress-services-preshutdown and used as the pod's preStop hook. It returns once
// cluster traffic for every egress service with a health check endpoint no longer reaches this
// Pod, then waits for kube-proxies to converge.
//
// Rules (deviations from upstream, see docs/COMPATIBILITY.md):
// * A ping that fails (connection refused, timeout, DNS failure) is "not routed here": upstream
//   logs that the endpoint is unreachable but still counts it as routed, so a Service without
//   healthy backends kept the hook looping until the preStop deadline.
// * On a dual-stack pod each IP family is probed (the request is resolved/connected over that
//   family); a response proves routing through this Pod if its Pod-IPv4 or Pod-IPv6 header
//   equals ours. A hostname without an address of some family simply has nothing to drain there.
// * A pod without POD_IPS cannot be identified: its services are reported drained instead of an
//   absent header matching an empty pod IP.
// * The long sleep is kept even when no service had a health endpoint: then nothing was verified
//   and the sleep is the only time given to kube-proxies to stop routing here.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { log as defaultLog } from '../../log.js';
import type { Settings } from '../../settings/types.js';
import { formatGoDuration as goDuration } from '../../settings/parse.js';
import { abortableSleep } from '../../util/sleep.js';
import { readEgressConfigs, readHEPPings } from './config.js';

export interface PingResult {
  podIPv4?: string;
  podIPv6?: string;
}

/** One GET of a health endpoint over one IP family; rejects on transport errors. */
export type Pinger = (url: string, family: 4 | 6, signal: AbortSignal) => Promise<PingResult>;

export interface PreshutdownDeps {
  settings: Pick<Settings, 'egressProxiesCfgPath' | 'podIPv4' | 'podIPv6' | 'testSleepMs'>;
  /** Ends when the incoming request ends (client gone or server shutting down). */
  signal: AbortSignal;
  log?: (msg: string) => void;
  ping?: Pinger;
  /** Per-ping timeout; a timed-out ping counts as not routed here. */
  pingTimeoutMs?: number;
}

export interface HookResponse {
  status: number;
  body: string;
}

const DEFAULT_PING_TIMEOUT_MS = 3_000;

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Default pinger: `GET url` with `Connection: close`, resolving the host over `family`.
 * node:http(s) are loaded at the first ping: most configurations never ping (start-up RSS).
 */
export const httpPing: Pinger = async (url, family, signal) => {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { family, signal, headers: { Connection: 'close' }, agent: false }, (res: IncomingMessage) => {
      res.resume();
      res.on('error', reject);
      res.on('end', () => resolve({ podIPv4: header(res.headers['pod-ipv4']), podIPv6: header(res.headers['pod-ipv6']) }));
    });
    req.on('error', reject);
  });
};

/** The sleeps: production 1 s / 10 s; TS_TEST_SLEEP_DURATION=d gives d / 10×d. */
export function preshutdownSleeps(testSleepMs: number | undefined): { shortMs: number; longMs: number } {
  return testSleepMs === undefined ? { shortMs: 1_000, longMs: 10_000 } : { shortMs: testSleepMs, longMs: 10 * testSleepMs };
}

function familiesToProbe(url: string, podIPv4: string, podIPv6: string): (4 | 6)[] {
  let host: string;
  try { host = new URL(url).hostname.replace(/^\[|\]$/g, ''); } catch { host = ''; }
  const lit = isIP(host);
  const fams: (4 | 6)[] = [];
  if (podIPv4 !== '' && lit !== 6) fams.push(4);
  if (podIPv6 !== '' && lit !== 4) fams.push(6);
  return fams;
}

export async function egressPreshutdown(deps: PreshutdownDeps): Promise<HookResponse> {
  const log = deps.log ?? defaultLog;
  const { settings, signal } = deps;
  const dir = settings.egressProxiesCfgPath;
  let configs;
  try {
    configs = await readEgressConfigs(dir);
  } catch (e) {
    return { status: 500, body: `error retrieving egress services configs: ${(e as Error).message}` };
  }
  if (configs.size === 0) return { status: 200, body: 'safe to terminate' };
  let pings: number;
  try {
    pings = await readHEPPings(dir, log);
  } catch (e) {
    return { status: 500, body: `error determining the number of times health check endpoint should be pinged: ${(e as Error).message}` };
  }
  const { shortMs, longMs } = preshutdownSleeps(settings.testSleepMs);
  const ping = deps.ping ?? httpPing;
  const timeoutMs = deps.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
  const v4 = settings.podIPv4.toLowerCase();
  const v6 = settings.podIPv6.toLowerCase();

  // One round: `pings` sequential requests per family; routed here if any answer is ours.
  const round = async (url: string, fams: (4 | 6)[]): Promise<boolean> => {
    let ours = false;
    for (const fam of fams) {
      for (let i = 0; i < pings && !signal.aborted; i++) {
        try {
          const r = await ping(url, fam, AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
          if ((v4 !== '' && r.podIPv4?.toLowerCase() === v4) || (v6 !== '' && r.podIPv6?.toLowerCase() === v6)) ours = true;
        } catch (e) {
          if (signal.aborted) break;
          log(`Endpoint "${url}" can not be reached: ${(e as Error).message}, likely because there are no (more) healthy backends`);
        }
      }
    }
    return ours;
  };

  const drain = async (svc: string, url: string): Promise<void> => {
    const fams = familiesToProbe(url, settings.podIPv4, settings.podIPv6);
    if (fams.length === 0) {
      log(`Pod IPs are not known, unable to verify if cluster traffic for "${svc}" is still routed via this Pod`);
      return;
    }
    for (;;) {
      if (signal.aborted) {
        log(`Cluster traffic for ${svc} did not stop being routed to this Pod.`);
        return;
      }
      if (!(await round(url, fams)) && !signal.aborted) {
        log(`service "${svc}" is no longer routed through this Pod`);
        return;
      }
      await abortableSleep(shortMs, signal);
    }
  };

  const work: Promise<void>[] = [];
  for (const [svc, cfg] of configs) {
    if (cfg.healthCheckEndpoint === '') {
      log(`Tailnet target "${svc}" does not have a cluster healthcheck specified, unable to verify if cluster traffic for the target is still routed via this Pod`);
      continue;
    }
    work.push(drain(svc, cfg.healthCheckEndpoint));
  }
  await Promise.all(work);
  log(`Sleeping for ${goDuration(longMs)} before shutdown to ensure that kube proxies on all nodes have updated routing configuration`);
  await abortableSleep(longMs, signal);
  return { status: 200, body: '' };
}
