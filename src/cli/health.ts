// `containerboot health`: the image's HEALTHCHECK, so no curl is needed in the image. Reads the same
// environment as the boot (docker exec inherits the container's), then asks, in this order:
//   TS_HEALTHCHECK_ADDR_PORT set (deprecated)     → GET http://<that>/healthz must answer 200
//   TS_ENABLE_HEALTH_CHECK on (TS_LOCAL_ADDR_PORT) → GET http://<that>/healthz must answer 200
//   otherwise                                     → tailscaled's LocalAPI status: BackendState Running
// Exit 0 when healthy; otherwise exit 1 with a one-line reason on stderr.
import http from 'node:http';
import { LocalAPIClient } from '../localapi/client.js';
import { settingsFromEnv } from '../settings/fromEnv.js';
import { localHealthEnabled, type Settings } from '../settings/types.js';
import { parseAddrPort } from '../util/netip.js';

const TIMEOUT_MS = 5_000;

export type Probe =
  | { kind: 'healthz'; host: string; port: number; url: string }
  | { kind: 'localapi'; socket: string };

/** Which check the settings call for (pure). An unspecified listen address is probed on loopback. */
export function planProbe(s: Settings): Probe {
  const addrPort = s.healthCheckAddrPort !== '' ? s.healthCheckAddrPort : localHealthEnabled(s) ? s.localAddrPort : '';
  if (addrPort === '') return { kind: 'localapi', socket: s.socket };
  const { addr, port } = parseAddrPort(addrPort);
  const host = addr.text === '0.0.0.0' || addr.text === '::' ? '127.0.0.1' : addr.text;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
  return { kind: 'healthz', host, port, url };
}

/** The one-line verdict for a LocalAPI status answer (pure). */
export function judgeStatus(status: unknown): { ok: boolean; reason: string } {
  const state = (status as { BackendState?: unknown } | null)?.BackendState;
  if (state === 'Running') return { ok: true, reason: 'tailscaled is Running' };
  return { ok: false, reason: `tailscaled's BackendState is ${typeof state === 'string' && state !== '' ? state : 'unknown'}, not Running` };
}

async function probeLocalAPI(socket: string, signal: AbortSignal): Promise<{ ok: boolean; reason: string }> {
  const client = new LocalAPIClient(socket);
  try {
    return judgeStatus(await client.getJSON('/localapi/v0/status?peers=false', signal));
  } catch (e) {
    return { ok: false, reason: `cannot read tailscaled's status from its LocalAPI at ${socket}: ${oneLine(e)}` };
  } finally {
    client.close();
  }
}

function probeHealthz(p: Extract<Probe, { kind: 'healthz' }>, signal: AbortSignal): Promise<{ ok: boolean; reason: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: p.host, port: p.port, path: '/healthz', signal, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < 512) body += c; });
      res.on('end', () => resolve(res.statusCode === 200
        ? { ok: true, reason: `GET ${p.url}: 200 ${body.trim()}` }
        : { ok: false, reason: `GET ${p.url}: ${res.statusCode} ${body.trim()}` }));
      res.on('error', (e) => resolve({ ok: false, reason: `GET ${p.url}: ${oneLine(e)}` }));
    });
    req.on('error', (e) => resolve({ ok: false, reason: `GET ${p.url}: ${oneLine(e)}` }));
  });
}

function oneLine(e: unknown): string {
  const err = e as Error & { code?: string };
  const text = err?.name === 'AbortError' || err?.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : String(err?.message ?? e);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export async function health(_argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let s: Settings;
  try {
    s = settingsFromEnv(env).settings;
  } catch (e) {
    process.stderr.write(`unhealthy: ${oneLine(e)}\n`);
    return 1;
  }
  const probe = planProbe(s);
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const v = probe.kind === 'localapi' ? await probeLocalAPI(probe.socket, signal) : await probeHealthz(probe, signal);
  if (v.ok) process.stdout.write(`healthy: ${v.reason}\n`);
  else process.stderr.write(`unhealthy: ${v.reason}\n`);
  return v.ok ? 0 : 1;
}
