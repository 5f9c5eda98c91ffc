// A fake tailscaled LocalAPI on a unix socket, faithful to the wire details containerboot relies on
// (localapi.md §1.8): Host/Origin checks, watch-ipn-bus masks and initial messages, NDJSON with the
// always-present keys, serve-config ETags, dns-config 503 before login, error body formats.
// Fake `tailscale` CLI processes report their argv to POST /test/cli and get their exit code back.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';

export type BackendState = 'NoState' | 'InUseOtherUser' | 'NeedsLogin' | 'NeedsMachineAuth' | 'Stopped' | 'Starting' | 'Running';
const STATES: BackendState[] = ['NoState', 'InUseOtherUser', 'NeedsLogin', 'NeedsMachineAuth', 'Stopped', 'Starting', 'Running'];

export interface FakeNode {
  ID: number | string;
  StableID: string;
  Name: string;
  Key?: string;
  Addresses: string[];
  AllowedIPs?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A scripted answer for GET cert/<domain>. */
export interface CertAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Destroy the connection instead of answering (a transport error). */
  hangUp?: boolean;
}

export interface CLICall {
  args: string[];
}

/** Decides how a fake CLI invocation ends; may wait (e.g. `up` blocks until Running). */
export type CLIHandler = (call: CLICall, api: FakeLocalAPI) => Promise<number> | number;

interface Watcher {
  mask: number;
  res: http.ServerResponse;
}

const INITIAL_BITS = [2, 4, 8, 32, 1024, 2048, 16384, 131072, 262144];

function baseNotify(): Record<string, unknown> {
  return { Version: '1.102.3-fake', ErrMessage: null, LoginFinished: null, State: null, Prefs: null, NetMap: null, Engine: null, BrowseToURL: null, DriveShares: null };
}

export class FakeLocalAPI {
  readonly requests: RecordedRequest[] = [];
  readonly cliCalls: CLICall[] = [];
  state: BackendState = 'NeedsLogin';
  self?: FakeNode;
  peers: FakeNode[] = [];
  certDomains: string[] = [];
  extraRecords: { Name: string; Type: string; Value: string }[] = [];
  prefs: Record<string, unknown> = { WantRunning: false, AdvertiseServices: null, RelayServerPort: null };
  serveConfig: unknown = null;
  health: Record<string, unknown> = {};
  dnsConfigStatus = 200;
  usermetrics = '# HELP tailscaled_health_messages Number of health messages\n# TYPE tailscaled_health_messages gauge\ntailscaled_health_messages{type="warning"} 0\n';
  cliHandler: CLIHandler = () => 0;
  /** Answers for cert/<domain> requests, consumed in order; when empty: 200 with a key and cert. */
  certAnswers: CertAnswer[] = [];
  /** Scripted failures by LocalAPI path (e.g. `watch-ipn-bus`), consumed in order, before normal handling. */
  failures = new Map<string, CertAnswer[]>();
  /** Fails the next serve-config POST with this status/body. */
  failServePost: { status: number; body: string } | undefined;
  /** Replaces the generated first message of the n-th watch (0-based) with a raw line, e.g. from a recorded transcript. */
  rawInitial?: (watchIndex: number, mask: number) => string | undefined;
  private watchCount = 0;
  /** Called when a request's headers arrive, before its body is read (benchmarks time this). */
  onRequestStart?: (path: string) => void;
  private watchers = new Set<Watcher>();
  private server?: http.Server;
  private readonly listeners = new Set<() => void>();

  constructor(readonly socketPath: string) {}

  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(this.socketPath, r));
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
  }

  /** Recorded requests with this method whose path starts with `prefix`. */
  of(method: string, prefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(prefix));
  }

  /** Number of currently open bus watches. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** Resolves when `pred` becomes true (checked after every request/event). */
  until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.listeners.delete(check); reject(new Error(`fake LocalAPI: timed out waiting for ${what}`)); }, timeoutMs);
      const check = () => { if (pred()) { clearTimeout(t); this.listeners.delete(check); resolve(); } };
      this.listeners.add(check);
    });
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Sends a notification (merged into the always-present keys) to every watcher. */
  notify(n: Record<string, unknown>): void {
    const line = `${JSON.stringify({ ...baseNotify(), ...n })}\n`;
    for (const w of this.watchers) w.res.write(line);
  }

  /** Sends raw bytes to every watcher (framing tests). */
  writeRaw(text: string): void {
    for (const w of this.watchers) w.res.write(text);
  }

  setState(s: BackendState): void {
    this.state = s;
    this.notify({ State: STATES.indexOf(s) });
    this.changed();
  }

  /** Sends a netmap update the way tailscaled ≥1.100 does: SelfChange + PeersChanged. */
  sendNetmap(): void {
    const n: Record<string, unknown> = { SelfChange: this.self };
    if (this.peers.length > 0) n.PeersChanged = this.peers;
    this.notify(n);
  }

  /** Ends every open watch (as when tailscaled restarts the stream). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.changed();
  }

  status(): Record<string, unknown> {
    const peerStatus = (n: FakeNode) => ({
      ID: n.StableID, NodeID: n.ID, PublicKey: n.Key ?? `nodekey:${String(n.ID).padStart(64, '0')}`, DNSName: n.Name,
      TailscaleIPs: n.Addresses.map((a) => a.split('/')[0]), AllowedIPs: n.AllowedIPs ?? n.Addresses,
    });
    const peer: Record<string, unknown> = {};
    for (const p of this.peers) peer[peerStatus(p).PublicKey] = peerStatus(p);
    return {
      BackendState: this.state,
      Self: this.self ? peerStatus(this.self) : { ID: '', NodeID: 0, PublicKey: `nodekey:${'0'.repeat(64)}`, DNSName: '', TailscaleIPs: null },
      CertDomains: this.certDomains.length ? this.certDomains : null,
      ExtraRecords: this.extraRecords.length ? this.extraRecords : null,
      Peer: this.peers.length ? peer : null,
    };
  }

  private etag(): string {
    return createHash('sha256').update(JSON.stringify(this.serveConfig)).digest('hex');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.onRequestStart?.(req.url ?? '');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://local-tailscaled.sock');
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
    const text = (status: number, msg: string) => { res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }); res.end(`${msg}\n`); };
    const json = (status: number, v: unknown, headers: Record<string, string> = {}) => { res.writeHead(status, { 'Content-Type': 'application/json', ...headers }); res.end(`${JSON.stringify(v)}\n`); };
    try {
      if (url.pathname === '/test/cli') {
        const call = JSON.parse(body) as CLICall;
        this.cliCalls.push(call);
        this.changed();
        const code = await this.cliHandler(call, this);
        return json(200, { exit: code });
      }
      const host = req.headers.host;
      if ((host !== undefined && host !== 'local-tailscaled.sock') || req.headers.origin || req.headers.referer) {
        return text(403, 'invalid localapi request');
      }
      const p = url.pathname.replace(/^\/localapi\/v0\//, '');
      const f = this.failures.get(p)?.shift();
      if (f) {
        if (f.hangUp) { req.socket.destroy(); return; }
        res.writeHead(f.status, { 'Content-Type': 'text/plain; charset=utf-8', ...f.headers });
        res.end(f.body ?? '');
        return;
      }
      switch (p) {
        case 'watch-ipn-bus': return this.watch(url, res);
        case 'dns-config':
          if (this.state !== 'Running' || this.dnsConfigStatus !== 200) return text(this.dnsConfigStatus === 200 ? 503 : this.dnsConfigStatus, 'no netmap');
          return json(200, { CertDomains: this.certDomains.length ? this.certDomains : undefined, ExtraRecords: this.extraRecords.length ? this.extraRecords : undefined });
        case 'serve-config':
          if (req.method === 'GET') return json(200, this.serveConfig, { Etag: this.etag() });
          if (req.method === 'POST') {
            if (this.failServePost) {
              const f = this.failServePost;
              this.failServePost = undefined;
              return text(f.status, f.body);
            }
            const ifMatch = req.headers['if-match'];
            if (ifMatch && ifMatch !== this.etag()) return text(412, 'etag mismatch');
            if (this.state !== 'Running') return json(500, { error: 'updating config: netMap is nil' });
            this.serveConfig = JSON.parse(body);
            this.changed();
            res.writeHead(200); res.end(); return;
          }
          return text(405, 'method not allowed');
        case 'prefs':
          if (req.method === 'PATCH') {
            const mp = JSON.parse(body) as Record<string, unknown>;
            for (const [k, v] of Object.entries(mp)) if (k.endsWith('Set') && v === true) this.prefs[k.slice(0, -3)] = mp[k.slice(0, -3)] ?? null;
            this.changed();
            return json(200, this.prefs);
          }
          return json(200, this.prefs);
        case 'status': return json(200, this.status());
        case 'set-udp-gro-forwarding': return json(200, { Warning: '' });
        case 'usermetrics': res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }); res.end(this.usermetrics); return;
        case 'logout':
          if (req.method !== 'POST') return text(400, 'want POST');
          this.state = 'NeedsLogin';
          this.changed();
          res.writeHead(204); res.end(); return;
        case 'disconnect-control':
          if (req.method !== 'POST') return text(405, 'use POST');
          res.writeHead(200); res.end(); return;
        case 'reload-config':
          if (req.method !== 'POST') return text(405, 'use POST');
          return json(200, { Reloaded: true, Err: '' });
        case 'cert-domains': return json(200, this.certDomains.length ? this.certDomains : null);
        default:
          if (p.startsWith('cert/')) {
            const a = this.certAnswers.shift() ?? { status: 200, body: 'KEY\nCERT\n' };
            if (a.hangUp) { req.socket.destroy(); return; }
            res.writeHead(a.status, { 'Content-Type': 'text/plain; charset=utf-8', ...a.headers });
            res.end(a.body ?? '');
            return;
          }
          return text(404, '404 page not found');
      }
    } finally {
      this.changed();
    }
  }

  private watch(url: URL, res: http.ServerResponse): void {
    const maskText = url.searchParams.get('mask') ?? '0';
    if (!/^\d+$/.test(maskText)) { res.writeHead(400); res.end('bad mask\n'); return; }
    const mask = Number(maskText);
    if (mask & 65536) { res.writeHead(400); res.end('NotifyInProcessNoDisconnect is not allowed\n'); return; }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const raw = this.rawInitial?.(this.watchCount++, mask);
    if (raw !== undefined) {
      res.write(`${raw}\n`);
    } else if (INITIAL_BITS.some((b) => mask & b)) {
      const first: Record<string, unknown> = {};
      if (mask & 2) first.State = STATES.indexOf(this.state);
      if (mask & 4) first.Prefs = this.prefs;
      if (mask & 16384) first.InitialStatus = this.status();
      if (mask & 8 && this.self) first.SelfChange = this.self;
      if (mask & 128) first.Health = { Warnings: this.health };
      res.write(`${JSON.stringify({ ...baseNotify(), ...first })}\n`);
    }
    const w: Watcher = { mask, res };
    this.watchers.add(w);
    res.on('close', () => { this.watchers.delete(w); this.changed(); });
    this.changed();
  }
}
