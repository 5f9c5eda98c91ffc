// Route handlers of the local server (spec §6) plus /livez and /readyz.
import http from 'node:http';
import type { LocalAPIClient } from '../localapi/client.js';
import { textReply, type Reply, type Route } from './server.js';
import type { Metrics } from './metrics.js';

/** /healthz (§6.3): 200 with the Pod IP headers once the node has tailnet addresses, else 503. */
export function healthReply(healthy: boolean, podIPv4: string, podIPv6: string): Reply {
  if (!healthy) return textReply(503, 'node currently has no tailscale IPs\n');
  const headers: Record<string, string> = {};
  if (podIPv4) headers['Pod-IPv4'] = podIPv4;
  if (podIPv6) headers['Pod-IPv6'] = podIPv6;
  return { status: 200, body: 'ok', headers };
}

function forwardHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === 'host' || k === 'connection') continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function copyHeaders(h: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue;
    out[k] = v;
  }
  return out;
}

export function metricsRoute(client: LocalAPIClient, metrics: Metrics): Route {
  return {
    path: '/metrics', method: 'GET', handler: async (req) => {
      let res;
      try {
        res = await client.request(req.method ?? 'GET', '/localapi/v0/usermetrics', { headers: forwardHeaders(req) });
      } catch (e) {
        return textReply(500, `failed to proxy request: ${(e as Error).message}\n`);
      }
      const body = res.status === 200 ? res.body + metrics.render() : res.body;
      return { status: res.status, headers: copyHeaders(res.headers), body };
    },
  };
}

export function debugRoute(debugAddrPort: string): Route {
  return {
    path: '/debug/', method: 'ANY', handler: (req) => {
      if (debugAddrPort === '') return textReply(404, 'debug endpoint not configured\n');
      const pathname = (req.url ?? '/').split('?')[0];
      return new Promise<Reply>((resolve) => {
        const out = http.request(`http://${debugAddrPort}${pathname}`, { method: req.method, headers: forwardHeaders(req) }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: copyHeaders(res.headers), body: Buffer.concat(chunks) }));
        });
        out.on('error', (e) => resolve(textReply(500, `failed to proxy request: ${e.message}\n`)));
        req.pipe(out);
      });
    },
  };
}

/** `healthy` is read per request: health is derived from the boot state, not kept here. */
export function healthRoute(healthy: () => boolean, podIPv4: string, podIPv6: string): Route {
  return { path: '/healthz', method: 'GET', handler: () => healthReply(healthy(), podIPv4, podIPv6) };
}

export interface Probes {
  live(): { ok: boolean; reason: string };
  ready(): { ok: boolean; reason: string };
}

export function probeRoutes(p: Probes): Route[] {
  const r = (x: { ok: boolean; reason: string }) => textReply(x.ok ? 200 : 503, `${x.ok ? 'ok' : x.reason}\n`);
  return [
    { path: '/livez', method: 'GET', handler: () => r(p.live()) },
    { path: '/readyz', method: 'GET', handler: () => r(p.ready()) },
  ];
}

