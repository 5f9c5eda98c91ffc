// A tiny LocalAPI on a unix socket for the services tests: serve-config with ETags, prefs
// (AdvertiseServices), cert-domains, cert/<domain> with scripted answers, and a mask-8 IPN bus
// the test can push notifications into. Every request is recorded.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface CertAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Destroy the connection instead of answering (a transport error). */
  hangUp?: boolean;
}

export class FakeLocalAPIServices {
  readonly calls: Recorded[] = [];
  serveConfig = 'null';
  prefs: { AdvertiseServices: string[] | null } = { AdvertiseServices: null };
  certDomains: string[] | null = null;
  /** Answers for cert requests, consumed in order; when empty: 200. */
  certAnswers: CertAnswer[] = [];
  /** Fails the next serve-config POST with this status/body. */
  failServePost: { status: number; body: string } | undefined;
  private readonly buses = new Set<http.ServerResponse>();
  private server!: http.Server;
  private dir!: string;
  socket!: string;

  static async start(): Promise<FakeLocalAPIServices> {
    const f = new FakeLocalAPIServices();
    f.dir = await mkdtemp(path.join(tmpdir(), 'cb-lapi-'));
    f.socket = path.join(f.dir, 'ts.sock');
    f.server = http.createServer((req, res) => f.handle(req, res));
    await new Promise<void>((r) => f.server.listen(f.socket, r));
    return f;
  }

  etag(): string {
    return createHash('sha256').update(this.serveConfig).digest('hex');
  }

  /** Sends a notification to every open bus watch. */
  push(n: object): void {
    for (const r of this.buses) r.write(`${JSON.stringify(n)}\n`);
  }

  get busCount(): number {
    return this.buses.size;
  }

  of(method: string, prefix: string): Recorded[] {
    return this.calls.filter((c) => c.method === method && c.path.startsWith(prefix));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      const p = req.url ?? '';
      this.calls.push({ method: req.method ?? '', path: p, headers: req.headers, body });
      const json = (status: number, v: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (p === '/localapi/v0/serve-config' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/json', Etag: this.etag() });
        res.end(this.serveConfig);
      } else if (p === '/localapi/v0/serve-config' && req.method === 'POST') {
        const im = req.headers['if-match'];
        if (this.failServePost) {
          const f = this.failServePost;
          this.failServePost = undefined;
          res.writeHead(f.status, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(f.body);
        } else if (typeof im === 'string' && im !== '' && im !== this.etag()) {
          res.writeHead(412, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('etag mismatch\n');
        } else {
          this.serveConfig = JSON.stringify(JSON.parse(body));
          res.end();
        }
      } else if (p === '/localapi/v0/prefs' && req.method === 'GET') {
        json(200, this.prefs);
      } else if (p === '/localapi/v0/prefs' && req.method === 'PATCH') {
        const mp = JSON.parse(body) as { AdvertiseServices?: string[] | null; AdvertiseServicesSet?: boolean };
        if (mp.AdvertiseServicesSet) this.prefs.AdvertiseServices = mp.AdvertiseServices ?? null;
        json(200, this.prefs);
      } else if (p === '/localapi/v0/cert-domains') {
        json(200, this.certDomains);
      } else if (p.startsWith('/localapi/v0/cert/')) {
        const a = this.certAnswers.shift() ?? { status: 200, body: 'KEY\nCERT\n' };
        if (a.hangUp) { req.socket.destroy(); return; }
        res.writeHead(a.status, { 'Content-Type': 'text/plain; charset=utf-8', ...a.headers });
        res.end(a.body ?? '');
      } else if (p.startsWith('/localapi/v0/watch-ipn-bus')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        this.buses.add(res);
        res.on('close', () => this.buses.delete(res));
        if (p.endsWith('mask=8')) res.write(`${JSON.stringify({ Version: 'x', SelfChange: { ID: 1 } })}\n`);
      } else {
        res.writeHead(404);
        res.end('404 page not found\n');
      }
    });
  }

  async close(): Promise<void> {
    for (const r of this.buses) r.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await rm(this.dir, { recursive: true, force: true });
  }
}
