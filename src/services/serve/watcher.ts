// Applies the TS_SERVE_CONFIG file to tailscaled (spec §7.3): on start, on every change in the
// file's directory and whenever the cert domain changes. Also writes `https_endpoint`, refreshes
// the advertised Services from the file, and keeps the cert loops in `rw` cert-share mode.
import path from 'node:path';
import type chokidar from 'chokidar';
import type { KubeStateStore } from '../../kube/facade.js';
import type { LocalAPIClient } from '../../localapi/client.js';
import { errText, log as defaultLog } from '../../log.js';
import type { Settings } from '../../settings/types.js';
import type { ServiceAdvertiser } from '../advertise.js';
import type { CertLoops } from '../certs/loops.js';
import { watchDir } from '../dirWatch.js';
import { canonicalJSON } from '../goJSON.js';
import { WatchedSyncRunner } from '../syncLoop.js';
import { certDomains, hasHTTPSEndpoint, HTTPS_WITHOUT_CERTS_WARNING, NO_HTTPS, readServeConfig, serviceNames, type ServeConfig } from './config.js';

export interface ServeWatcherDeps {
  settings: Pick<Settings, 'serveConfigPath' | 'certShareMode'>;
  client: Pick<LocalAPIClient, 'request' | 'call'>;
  /** With patch permission, `https_endpoint` is written after each apply. */
  kube?: KubeStateStore;
  /** Set when auto-advertisement is on: the file's Services are advertised right after apply. */
  advertiser?: ServiceAdvertiser;
  /** Set in cert-share `rw` mode. */
  certs?: CertLoops;
  log?: (msg: string) => void;
  watch?: typeof chokidar.watch;
  tickMs?: number;
}

export class ServeConfigWatcher extends WatchedSyncRunner {
  private readonly log: (m: string) => void;
  private certDomain = '';
  /** Canonical JSON + ETag of the last config tailscaled is known to hold. */
  private previous: string | undefined;
  private writtenEndpoint: string | undefined;
  private started = false;

  constructor(private readonly deps: ServeWatcherDeps) {
    super();
    this.log = deps.log ?? defaultLog;
  }

  private get file(): string {
    return this.deps.settings.serveConfigPath;
  }

  /** Fed by the run loop: first cert domain of the netmap, or `no-https`. */
  setCertDomain(d: string): void {
    if (d === this.certDomain) return;
    this.certDomain = d;
    if (this.started && !this.closed) this.loop.trigger();
  }

  /**
   * Takes tailscaled's current serve config (and ETag) as the baseline, starts watching and
   * runs the first apply. Never rejects: fatal errors resolve `failed`.
   */
  async start(): Promise<void> {
    try {
      let res;
      try {
        res = await this.deps.client.call('GET', '/localapi/v0/serve-config', { signal: this.abort.signal });
      } catch (e) {
        throw new Error(`serve proxy: failed to get serve config: ${errText(e)}`);
      }
      const etag = String(res.headers.etag ?? '');
      const cfg: unknown = res.body.trim() === '' ? null : JSON.parse(res.body);
      this.previous = `${canonicalJSON(cfg ?? {})}\n${etag}`;
      try {
        this.watcher = await watchDir(path.dirname(this.file), () => { if (!this.closed) this.loop.trigger(); }, {
          onFallback: (err) => this.log(`serve proxy: failed to create fsnotify watcher, timer-only mode: ${err.message}`),
          onTick: () => undefined,
          tickMs: this.deps.tickMs,
          watch: this.deps.watch,
        });
      } catch (e) {
        throw new Error(`serve proxy: ${(e as Error).message}`);
      }
      this.started = true;
      this.loop.trigger();
      await this.loop.idle();
    } catch (e) {
      if (!this.closed) this.loop.die(e);
    }
  }

  idle(): Promise<void> {
    return this.loop.idle();
  }

  protected async sync(): Promise<void> {
    const certDomain = this.certDomain;
    let r;
    try {
      r = await readServeConfig(this.file, certDomain);
    } catch (e) {
      // Upstream exits here; a broken file is reported and the applied config stays instead.
      this.log(`serve proxy: failed to read serve config: ${errText(e)}; keeping the current serve config`);
      return;
    }
    if (r.kind !== 'config') {
      if (r.kind === 'empty') this.log('serve proxy: serve config file is empty, skipping');
      this.log(`serve proxy: no serve config at "${this.file}", skipping`);
      return;
    }
    const cfg = r.config;
    const key = `${canonicalJSON(cfg)}\n`; // file configs carry no ETag
    if (key === this.previous) return;
    const applied = await this.apply(cfg, certDomain);
    const kube = this.deps.kube;
    if (kube !== undefined && kube.canPatch && this.writtenEndpoint !== certDomain) {
      try {
        await kube.patchKeys({ https_endpoint: certDomain }, this.abort.signal);
      } catch (e) {
        throw new Error(`serve proxy: failed to update https_endpoint in Kubernetes Secret: ${errText(e)}`);
      }
      this.writtenEndpoint = certDomain;
    }
    this.previous = key;
    if (applied && this.deps.advertiser !== undefined) await this.deps.advertiser.ensure(serviceNames(cfg), this.abort.signal);
    this.deps.certs?.ensure(certDomains(cfg));
  }

  /** POSTs the config unless it needs certs this node cannot get; returns whether it did. */
  private async apply(cfg: ServeConfig, certDomain: string): Promise<boolean> {
    if (certDomain === NO_HTTPS && hasHTTPSEndpoint(cfg)) {
      this.log(HTTPS_WITHOUT_CERTS_WARNING);
      return false;
    }
    this.log('serve proxy: applying serve config');
    try {
      // The ETag of a file-derived config is empty: an unconditional write, as upstream.
      await this.deps.client.call('POST', '/localapi/v0/serve-config', {
        body: JSON.stringify(cfg), signal: this.abort.signal, headers: { 'Content-Type': 'application/json', 'If-Match': '' },
      });
    } catch (e) {
      throw new Error(`serve proxy: error updating serve config: ${errText(e)}`);
    }
    return true;
  }

  override async close(): Promise<void> {
    await super.close();
    this.deps.certs?.close();
  }
}
