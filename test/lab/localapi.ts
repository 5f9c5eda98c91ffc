// A minimal LocalAPI client for the lab, independent of the product's own client: the tests look
// at tailscaled from the outside. Unix sockets are file-system objects, so the test process
// reaches a socket of a tailscaled living in another network namespace.
import http from 'node:http';

export const TAILSCALE_CAP = '142'; // tailscaled v1.102.3's capability version

export interface LocalAPIReply {
  status: number;
  body: string;
}

export function localapi(socket: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<LocalAPIReply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: socket,
        method,
        path: path.startsWith('/') ? path : `/localapi/v0/${path}`,
        headers: { Host: 'local-tailscaled.sock', 'Tailscale-Cap': TAILSCALE_CAP, ...(data !== undefined ? { 'Content-Length': Buffer.byteLength(data) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`LocalAPI ${path}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export async function localapiJSON<T = any>(socket: string, path: string): Promise<T> {
  const r = await localapi(socket, 'GET', path);
  if (r.status !== 200) throw new Error(`LocalAPI GET ${path}: ${r.status} ${r.body.trim()}`);
  return JSON.parse(r.body) as T;
}

export interface BusWatch {
  /** Raw NDJSON lines received so far, in order. */
  lines: string[];
  /** When each line arrived (Date.now(), ms), parallel to `lines`. */
  times: number[];
  /** Resolves with the first parsed message matching `pred` (looking at past ones too). */
  waitFor(pred: (msg: any, line: string) => boolean, timeoutMs: number, what?: string): Promise<any>;
  close(): void;
  closed: Promise<void>;
}

/** Opens `watch-ipn-bus?mask=<mask>` and records each line exactly as tailscaled wrote it. */
export function watchIPNBus(socket: string, mask: number): Promise<BusWatch> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const times: number[] = [];
    const waiters: Array<() => void> = [];
    let partial = '';
    let closeResolve!: () => void;
    const closed = new Promise<void>((r) => (closeResolve = r));
    let ended = false;
    const req = http.request(
      { socketPath: socket, method: 'GET', path: `/localapi/v0/watch-ipn-bus?mask=${mask}`, headers: { Host: 'local-tailscaled.sock', 'Tailscale-Cap': TAILSCALE_CAP } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch-ipn-bus: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          partial += chunk;
          let i: number;
          while ((i = partial.indexOf('\n')) >= 0) {
            const line = partial.slice(0, i);
            partial = partial.slice(i + 1);
            if (line.trim() !== '') { lines.push(line); times.push(Date.now()); }
          }
          for (const w of waiters.splice(0)) w();
        });
        const end = () => {
          ended = true;
          for (const w of waiters.splice(0)) w();
          closeResolve();
        };
        res.on('end', end);
        res.on('error', end);
        res.on('close', end);
        resolve({
          lines,
          times,
          closed,
          close: () => {
            req.destroy();
            end();
          },
          async waitFor(pred, timeoutMs, what = 'bus message') {
            const deadline = Date.now() + timeoutMs;
            let seen = 0;
            for (;;) {
              for (; seen < lines.length; seen++) {
                const msg = JSON.parse(lines[seen]);
                if (pred(msg, lines[seen])) return msg;
              }
              if (ended) throw new Error(`IPN bus closed before ${what}`);
              const left = deadline - Date.now();
              if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on the IPN bus`);
              await new Promise<void>((r) => {
                const t = setTimeout(r, left);
                waiters.push(() => {
                  clearTimeout(t);
                  r();
                });
              });
            }
          },
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
