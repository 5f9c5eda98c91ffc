// The boot sequence, top to bottom, as upstream-behavior.md §2.1 describes it, with the deliberate
// fixes listed in docs/COMPATIBILITY.md. Every I/O step goes through an adapter; decisions come from
// the pure planners in settings/, plan/, netmap/ and proxies/.
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { errText, log, registerSecret } from './log.js';
import { settingsFromEnv, SettingsError } from './settings/fromEnv.js';
import { readAuthKeyFromConfigFile } from './settings/configDir.js';
import {
  CLI_DEFAULT_SOCKET, egressPreshutdownEnabled, isL3Proxy, isOneStepConfig, isTwoStepConfigAlwaysAuth,
  localHealthEnabled, metricsEnabled, type Settings,
} from './settings/types.js';
import { setArgs, setOnlyFlagsArgs, tailscaledArgs, upArgs } from './plan/argv.js';
import { LocalAPIClient } from './localapi/client.js';
import { BusWatch, MASK_BOOT, MASK_RUN } from './localapi/ipnbus.js';
import { effectiveState, hasLoginStateWarning, STATE_NAMES, triggersNetmapProcessing, type Notify } from './localapi/notify.js';
import { applyDNSConfig, applyNotify, type DNSConfigJSON } from './netmap/update.js';
import { emptyNetmap, hasValidSelf, type NetmapState } from './netmap/types.js';
import { startTailscaled, exitCodeOf, describeExit, type Daemon } from './proc/tailscaled.js';
import { waitForSocket } from './proc/waitSocket.js';
import { runTailscaleCLI } from './proc/cli.js';
import { trackSpawnedChildren } from './proc/children.js';
import { OrphanReaper } from './proc/reaper.js';
import { ensureIPForwarding, ensureTunDevice, needsForwarding } from './proc/host.js';
import { startServer, type Route, type RunningServer } from './http/server.js';
import { Health, debugRoute, healthRoute, metricsRoute, probeRoutes } from './http/endpoints.js';
import { Metrics } from './http/metrics.js';
import { CancelledError, DaemonExitedError, DeadlineError, Lifecycle } from './lifecycle.js';
import { sleep } from './util/sleep.js';
import type { KubeStateStore } from './kube/facade.js';
import type { Firewall } from './firewall/types.js';

/** Optional parts wired by main.ts; each is only loaded when the configuration needs it. */
export interface Components {
  createKube?: (s: Settings) => Promise<KubeStateStore>;
  createFirewall?: (env: NodeJS.ProcessEnv) => Promise<Firewall>;
  createProxies?: (s: Settings, fw: Firewall, fail: (err: Error) => void) => Promise<NetmapConsumer>;
  /** Auth-key reissue (one-step + kube state store). Resolves when a new key arrived. */
  reissueAuthKey?: (ctx: ReissueContext) => Promise<void>;
  /** One-step config reload watch; rejects with the fatal error. */
  watchConfig?: (ctx: { settings: Settings; client: LocalAPIClient; signal: AbortSignal; onReady: () => void }) => Promise<void>;
  /** HA services, serve config, advertisement: started at the points named in §3.3. */
  createServices?: (ctx: ServicesContext) => Promise<Services>;
}

export interface ReissueContext {
  settings: Settings;
  client: LocalAPIClient;
  kube: KubeStateStore;
  configAuthKey: string;
  signal: AbortSignal;
}

export interface NetmapConsumer {
  onNetmap(state: NetmapState): Promise<void>;
  close(): void;
}

export interface ServicesContext {
  settings: Settings;
  client: LocalAPIClient;
  kube?: KubeStateStore;
  firewall?: Firewall;
  /** Rejects with a fatal error (message already prefixed) to end containerboot. */
  fail: (err: Error) => void;
}

export interface Services {
  /** Route for GET /internal-egress-services-preshutdown, if egress is configured. */
  preshutdownRoute?: Route;
  /** Called after every processed netmap (steps 5.6, 5.12–5.14). */
  onNetmap(state: NetmapState): Promise<void>;
  /** Called once at "Startup complete". */
  onStartupComplete(): Promise<void>;
  /** Shutdown step 2 (unadvertise), within the shutdown budget. */
  onShutdown(signal: AbortSignal): Promise<void>;
  close(): void;
}

class Fatal extends Error {}

const ERRNO_TEXT: Record<string, string> = {
  EEXIST: 'file exists', EACCES: 'permission denied', ENOENT: 'no such file or directory', EROFS: 'read-only file system', EPERM: 'operation not permitted',
};

/** Formats a failed syscall like Go's *os.LinkError / *PathError text. */
function goSyscallError(op: string, paths: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return `${op} ${paths}: ${ERRNO_TEXT[code] ?? errText(e)}`;
}

const LOGOUT_TIMEOUT_MS = 5_000;
const CONNECT_RETRY_MS = 2_000;
const DAEMON_EXIT_GRACE_MS = 300;
const SHUTDOWN_BUDGET_MS = 25_000;

export async function run(env: NodeJS.ProcessEnv, components: Components = {}): Promise<number> {
  trackSpawnedChildren();
  let s: Settings;
  try {
    const r = settingsFromEnv(env);
    s = r.settings;
    for (const l of r.logs) log(l);
  } catch (e) {
    if (e instanceof SettingsError) {
      for (const l of (e as SettingsError & { logs?: string[] }).logs ?? []) log(l);
      log(e.message);
      return 1;
    }
    throw e;
  }
  for (const v of [s.authKey, s.clientSecret, s.idToken]) registerSecret(v);
  return new Boot(s, env, components).run();
}

class Boot {
  private readonly lc = new Lifecycle();
  private readonly client: LocalAPIClient;
  private readonly metrics = new Metrics();
  private readonly health: Health;
  private readonly netmap = emptyNetmap();
  private daemon?: Daemon;
  private kube?: KubeStateStore;
  private hasKubeStateStore = false;
  private configAuthKey = '';
  private servers: RunningServer[] = [];
  private firewall?: Firewall;
  private proxies?: NetmapConsumer;
  private services?: Services;
  private reaper?: OrphanReaper;
  private reachedRunning = false;
  private startupComplete = false;
  private lastReconcileOk = true;
  private shutdownDone?: Promise<void>;
  private fatalFromTask?: Error;
  private readonly taskFailed = new AbortController();

  constructor(private readonly s: Settings, private readonly env: NodeJS.ProcessEnv, private readonly c: Components) {
    this.client = new LocalAPIClient(s.socket);
    this.health = new Health(s.podIPv4, s.podIPv6);
  }

  async run(): Promise<number> {
    const s = this.s;
    // Kernel mode host preparation (§2.1 step 2).
    if (!s.userspace) {
      try { ensureTunDevice(s.root); } catch (e) {
        log(`unable to create tuntap device file: ${errText(e)}`);
        return 1;
      }
      if (needsForwarding(s)) {
        try { ensureIPForwarding(s.root, s); } catch (e) {
          log(`Failed to enable IP forwarding: ${errText(e)}`);
          log('To run tailscale as a proxy or router container, IP forwarding must be enabled.');
          log(s.inKubernetes
            ? 'you can either set the sysctls as a privileged initContainer, or run the tailscale container with privileged=true.'
            : 'you can fix this by running the container with privileged=true, or the equivalent in your container runtime that permits access to sysctls.');
          return 1;
        }
      }
    }
    this.lc.installSignalHandlers();
    if (process.pid === 1) {
      this.reaper = new OrphanReaper();
      this.reaper.start();
    }
    const boot = this.lc.withDeadline(s.bootTimeoutMs);
    let code: number;
    try {
      await this.bootAndRun(boot.signal);
      code = 0;
    } catch (e) {
      code = await this.exitFor(e);
    } finally {
      boot.clear();
    }
    this.reaper?.stop();
    this.client.close();
    return code;
  }

  /** Maps the error that ended the run to cleanup, logs and an exit code. */
  private async exitFor(e: unknown): Promise<number> {
    if (e instanceof CancelledExit) return 0;
    const err = this.fatalFromTask ?? e;
    // A dying tailscaled usually shows first as a broken bus or LocalAPI connection; give its exit
    // a moment to arrive so the death, not its symptom, decides the exit code.
    if (this.daemon && !this.lc.root.signal.aborted && !this.lc.died.signal.aborted) {
      await Promise.race([this.daemon.exited, sleep(DAEMON_EXIT_GRACE_MS)]);
    }
    if (this.lc.died.signal.aborted && !this.lc.root.signal.aborted) {
      const info = await this.daemon!.exited;
      await this.closeServers();
      log('tailscaled exited');
      // Deliberate fix (#17650): an unexpected tailscaled exit is a failure, never exit 0.
      const code = exitCodeOf(info) || 1;
      log(`tailscaled exited unexpectedly (${describeExit(info)}); exiting with code ${code}`);
      return code;
    }
    await this.closeServers();
    if (this.daemon) await this.shutdown();
    // Whatever failed after the first SIGTERM/SIGINT is a consequence of the cancellation.
    if (this.lc.root.signal.aborted && !this.fatalFromTask) return 0;
    log(errText(err));
    return 1;
  }

  private async bootAndRun(boot: AbortSignal): Promise<void> {
    const s = this.s;
    if (isOneStepConfig(s)) this.configAuthKey = readAuthKeyFromConfigFile(s.tailscaledConfigFilePath);
    registerSecret(this.configAuthKey);

    if (s.kubeSecret !== '') await this.setupKube(boot);

    // Start tailscaled and wait for its socket (§2.2).
    log('Starting tailscaled');
    try {
      this.daemon = await startTailscaled(tailscaledArgs(s), s.certShareMode ? { TS_CERT_SHARE_MODE: s.certShareMode } : {});
    } catch (e) {
      throw new Fatal(`failed to bring up tailscale: ${errText(e)}`);
    }
    void this.daemon.exited.then(() => {
      if (!this.shutdownDone) this.lc.died.abort(new DaemonExitedError('tailscaled exited'));
    });
    log(`Waiting for tailscaled socket at ${s.socket}`);
    void this.warmUp();
    try {
      await waitForSocket(s.socket, boot);
    } catch (e) {
      if (this.lc.life.aborted) throw e;
      if (e instanceof DeadlineError) throw new Fatal('failed to bring up tailscale: timed out waiting for tailscaled socket');
      throw new Fatal(`failed to bring up tailscale: ${errText(e)}`);
    }
    this.client.retryRefusedFor(CONNECT_RETRY_MS);

    await this.startHTTP();

    if (s.enableForwardingOptimizations) {
      try {
        const r = await this.client.getJSON<{ Warning?: string }>('/localapi/v0/set-udp-gro-forwarding', boot);
        if (r?.Warning) log(`[unexpected] error enabling UDP GRO forwarding: ${r.Warning}`);
      } catch (e) {
        log(`[unexpected] error enabling UDP GRO forwarding: ${errText(e)}`);
      }
    }

    let w = await this.openWatch(MASK_BOOT, boot, 'failed to watch tailscaled for updates');
    this.symlinkSocket();

    // Login (§2.3–§2.5, §3.2).
    let didLogin = false;
    if (isTwoStepConfigAlwaysAuth(s)) {
      w.close();
      await this.tailscaleUp(boot);
      didLogin = true;
      w = await this.openWatch(MASK_RUN, boot, 'failed to watch tailscaled for updates');
    }
    for (;;) {
      const n = await this.readBus(w);
      if (isOneStepConfig(s) && this.hasKubeStateStore && hasLoginStateWarning(n)) {
        log('Auth key failed to authenticate (may be expired or single-use), disconnecting from control and requesting new key from operator');
        w.close();
        return this.reissue();
      }
      const st = effectiveState(n);
      if (st !== undefined) this.metrics.backendState = STATE_NAMES.indexOf(st);
      if (st === 'Running') break;
      if (st === 'NeedsLogin') {
        if (isOneStepConfig(s)) {
          if (this.hasKubeStateStore) {
            log('Auth key missing or invalid (NeedsLogin state), disconnecting from control and requesting new key from operator');
            w.close();
            return this.reissue();
          }
          throw new Fatal('invalid state: tailscaled daemon started with a config file, but tailscale is not logged in: ensure you pass a valid auth key in the config file');
        }
        if (!didLogin) {
          w.close();
          await this.tailscaleUp(boot);
          didLogin = true;
          w = await this.openWatch(MASK_RUN, boot, 'failed to watch tailscaled for updates');
        }
      } else if (st === 'NeedsMachineAuth') {
        log('machine authorization required, please visit the admin panel');
      } else if (st !== undefined) {
        log(`tailscaled in state ${JSON.stringify(st)}, waiting`);
      }
    }
    w.close();
    this.reachedRunning = true;

    // Post-login steps (§2.1 steps 14–20).
    const life = this.lc.life;
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
      try { await this.client.sendJSON('POST', '/localapi/v0/serve-config', {}, life, { 'If-Match': '' }); } catch (e) {
        if (life.aborted) throw e;
        throw new Fatal(`failed to unset serve config: ${errText(e)}`);
      }
    }
    if (this.hasKubeStateStore && s.authOnce && this.kube) {
      log('Deleting authkey from Kubernetes Secret');
      try { await this.kube.deleteAuthKey(life); } catch (e) {
        throw new Fatal(`deleting authkey from Kubernetes Secret: ${errText(e)}`);
      }
    }
    w = await this.openWatch(MASK_RUN, life, 'failed to watch tailscaled for updates');
    if (isOneStepConfig(s) && this.c.watchConfig) {
      // Armed before the run loop, so a config swap right after "Startup complete" is not missed.
      let ready!: () => void;
      const armed = new Promise<void>((r) => { ready = r; });
      const watching = this.c.watchConfig({ settings: s, client: this.client, signal: life, onReady: () => ready() })
        .catch((e) => this.failTask(new Fatal(`failed to watch tailscaled config: ${errText(e)}`)));
      await Promise.race([armed, watching]);
    }
    if (isL3Proxy(s)) {
      try {
        if (!this.c.createFirewall) throw new Error('firewall support is not built in');
        this.firewall = await this.c.createFirewall(this.env);
      } catch (e) {
        throw new Fatal(`error creating new netfilter runner: ${errText(e)}`);
      }
      if (this.c.createProxies) this.proxies = await this.c.createProxies(s, this.firewall, (err) => this.failTask(err));
    }
    if (this.c.createServices) {
      this.services = await this.c.createServices({
        settings: s, client: this.client, kube: this.hasKubeStateStore ? this.kube : undefined, firewall: this.firewall,
        fail: (err) => this.failTask(err),
      });
    }
    await this.runLoop(w);
  }

  /** The run loop (§3.3): one notification at a time until cancelled or failed. */
  private async runLoop(w: BusWatch): Promise<void> {
    const s = this.s;
    let storedDeviceID: string | undefined;
    let storedEndpoints: string | undefined;
    for (;;) {
      const n = await this.readBus(w);
      applyNotify(this.netmap, n);
      if (n.SelfChange) await this.refreshDNSConfig();
      const st = effectiveState(n);
      if (st !== undefined) this.metrics.backendState = STATE_NAMES.indexOf(st);
      if (st !== undefined && st !== 'Running') {
        throw new Fatal(`tailscaled left running state (now in state ${JSON.stringify(st)}), exiting`);
      }
      if (!triggersNetmapProcessing(n) || !hasValidSelf(this.netmap)) continue;
      const t0 = performance.now();
      let ok = false;
      try {
        const self = this.netmap.self!;
        if (this.hasKubeStateStore && this.kube && self.stableID !== storedDeviceID) {
          try { await this.kube.storeDeviceID(self.stableID, this.lc.life); } catch (e) {
            throw new Fatal(`storing device ID in Kubernetes Secret: ${errText(e)}`);
          }
          storedDeviceID = self.stableID;
        }
        if (this.proxies) await this.proxies.onNetmap(this.netmap);
        const endpointsKey = `${self.name}|${self.addresses.join(',')}`;
        if (this.hasKubeStateStore && this.kube && endpointsKey !== storedEndpoints) {
          const ips = self.addresses.map((p) => p.split('/')[0]);
          try { await this.kube.storeDeviceEndpoints(self.name, ips, this.lc.life); } catch (e) {
            throw new Fatal(`storing device IPs and FQDN in Kubernetes Secret: ${errText(e)}`);
          }
          storedEndpoints = endpointsKey;
        }
        this.health.set(self.addresses.length > 0);
        if (this.services) await this.services.onNetmap(this.netmap);
        ok = true;
      } finally {
        this.lastReconcileOk = ok;
        this.metrics.observeReconcile((performance.now() - t0) / 1000, ok);
      }
      if (!this.startupComplete && (!isL3Proxy(s) || !this.hasKubeStateStore || (storedDeviceID !== undefined && storedEndpoints !== undefined))) {
        this.startupComplete = true;
        this.metrics.startupComplete = 1;
        log('Startup complete, waiting for shutdown signal');
        if (this.services) await this.services.onStartupComplete();
      }
    }
  }

  private async refreshDNSConfig(): Promise<void> {
    try {
      const cfg = await this.client.getJSON<DNSConfigJSON | null>('/localapi/v0/dns-config', this.lc.life);
      applyDNSConfig(this.netmap, cfg);
    } catch (e) {
      if (this.lc.life.aborted) throw e;
      log(`error refreshing DNS config from tailscaled: ${errText(e)}`);
    }
  }

  /**
   * While tailscaled starts: run the first LocalAPI call's code path (BusWatch.open, the client,
   * Node's HTTP client) against a socket path that does not exist, so that the real first call
   * after the socket appears runs compiled code (docs/PERFORMANCE.md, socket → first request).
   */
  private async warmUp(): Promise<void> {
    const probe = new LocalAPIClient(`${this.s.socket}.cb-warmup-nonexistent`);
    // A few rounds: V8 optimises what runs repeatedly (measured: 1st call 6 ms, 2nd 1.8 ms, later 0.6 ms).
    for (let i = 0; i < 3; i++) {
      try {
        await BusWatch.open(probe, MASK_BOOT, AbortSignal.any([this.lc.life, this.taskFailed.signal]));
      } catch { /* ENOENT: nothing listens there, by design */ }
    }
    probe.close();
  }

  private async readBus(w: BusWatch): Promise<Notify> {
    try {
      return await w.next();
    } catch (e) {
      if (this.fatalFromTask) throw this.fatalFromTask;
      if (this.lc.life.aborted) throw this.lc.life.reason;
      throw new Fatal(`failed to read from tailscaled: ${errText(e)}`);
    }
  }

  private async openWatch(mask: number, signal: AbortSignal, what: string): Promise<BusWatch> {
    try {
      const w = await BusWatch.open(this.client, mask, AbortSignal.any([signal, this.taskFailed.signal]));
      this.metrics.watchOpens++;
      return w;
    } catch (e) {
      if (this.lc.life.aborted) throw this.lc.life.reason;
      throw new Fatal(`${what}: ${errText(e)}`);
    }
  }

  private async tailscaleUp(boot: AbortSignal): Promise<void> {
    log("Running 'tailscale up'");
    try {
      await runTailscaleCLI(upArgs(this.s), boot);
    } catch (e) {
      if (this.lc.life.aborted) throw this.lc.life.reason;
      throw new Fatal(`failed to auth tailscale: failed to auth tailscale: tailscale up failed: ${errText(e)}`);
    }
  }

  private async setupKube(boot: AbortSignal): Promise<void> {
    const s = this.s;
    try {
      if (!this.c.createKube) throw new Error('Kubernetes support is not built in');
      this.kube = await this.c.createKube(s);
    } catch (e) {
      throw new Fatal(`error initializing kube client: ${errText(e)}`);
    }
    try {
      const r = await this.kube.setup(s, boot);
      if (r.authKey) { s.authKey = r.authKey; registerSecret(r.authKey); }
      this.hasKubeStateStore = s.inKubernetes && r.canPatch && s.kubeSecret !== '';
    } catch (e) {
      if (this.lc.life.aborted) throw this.lc.life.reason;
      throw new Fatal(`error setting up for running on Kubernetes: ${errText(e)}`);
    }
    if (this.hasKubeStateStore) {
      try { await this.kube.resetState(s, this.configAuthKey, boot); } catch (e) {
        if (this.lc.life.aborted) throw this.lc.life.reason;
        throw new Fatal(`error clearing previous state from Secret: ${errText(e)}`);
      }
    }
  }

  private async reissue(): Promise<void> {
    if (!this.c.reissueAuthKey || !this.kube) throw new Fatal('failed to get a reissued authkey: auth key reissue is not built in');
    try {
      await this.c.reissueAuthKey({ settings: this.s, client: this.client, kube: this.kube, configAuthKey: this.configAuthKey, signal: this.lc.life });
    } catch (e) {
      if (this.lc.life.aborted) throw this.lc.life.reason;
      throw new Fatal(`failed to get a reissued authkey: ${errText(e)}`);
    }
    log('Successfully received new auth key, restarting to apply configuration');
    // Success: the runtime restarts us with the new config; exit 0 after the shutdown routine.
    await this.closeServers();
    await this.shutdown();
    throw new CancelledExit();
  }

  private symlinkSocket(): void {
    const s = this.s;
    if (s.socket === CLI_DEFAULT_SOCKET) return;
    try {
      mkdirSync(path.dirname(CLI_DEFAULT_SOCKET), { recursive: true, mode: 0o700 });
      symlinkSync(s.socket, CLI_DEFAULT_SOCKET);
    } catch (e) {
      log(`[warning] failed to symlink socket: ${goSyscallError('symlink', `${s.socket} ${CLI_DEFAULT_SOCKET}`, e)}\n\tTo interact with the Tailscale CLI please use \`tailscale --socket=${JSON.stringify(s.socket)}\``);
    }
  }

  private async startHTTP(): Promise<void> {
    const s = this.s;
    const onError = (e: Error) => this.failTask(new Fatal(`HTTP server failed: ${errText(e)}`));
    if (s.healthCheckAddrPort !== '') {
      log(`Running healthcheck endpoint at ${s.healthCheckAddrPort}/healthz`);
      this.servers.push(await this.listen(s.healthCheckAddrPort, [healthRoute(this.health)], onError));
    }
    const routes: Route[] = [];
    if (metricsEnabled(s)) {
      log(`Running metrics endpoint at ${s.localAddrPort}/metrics`);
      routes.push(metricsRoute(this.client, this.metrics), debugRoute(s.debugAddrPort));
    }
    if (localHealthEnabled(s)) {
      log(`Running healthcheck endpoint at ${s.localAddrPort}/healthz`);
      routes.push(healthRoute(this.health), ...probeRoutes({
        live: () => ({ ok: !!this.daemon && !this.daemon.hasExited() && !this.lc.died.signal.aborted, reason: 'tailscaled is not running' }),
        ready: () => {
          if (!this.reachedRunning) return { ok: false, reason: 'tailscaled is not Running yet' };
          if (!this.startupComplete) return { ok: false, reason: 'startup not complete (rules or device info pending)' };
          if (!this.lastReconcileOk) return { ok: false, reason: 'last netmap processing failed' };
          return { ok: true, reason: '' };
        },
      }));
    }
    if (egressPreshutdownEnabled(s)) {
      log(`Running egress preshutdown hook at ${s.localAddrPort}/internal-egress-services-preshutdown`);
      routes.push({
        path: '/internal-egress-services-preshutdown', method: 'GET', handler: async (req) => {
          const r = this.services?.preshutdownRoute;
          if (r) return r.handler(req);
          return { status: 200, body: 'safe to terminate', headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
        },
      });
    }
    if (routes.length > 0) this.servers.push(await this.listen(s.localAddrPort, routes, onError));
  }

  private async listen(addr: string, routes: Route[], onError: (e: Error) => void): Promise<RunningServer> {
    try {
      return await startServer(addr, routes, onError);
    } catch (e) {
      throw new Fatal(`failed to listen on addr ${JSON.stringify(addr)}: ${errText(e)}`);
    }
  }

  private async closeServers(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    for (const srv of servers) {
      await srv.close();
      log(`HTTP server at ${srv.address} closed`);
    }
  }

  /** A background task (config watch, services) failed: end the run with its error. */
  private failTask(err: Error): void {
    if (this.fatalFromTask) return;
    this.fatalFromTask = err;
    this.taskFailed.abort(err);
  }

  /** The shutdown routine (§2.6), run at most once. */
  private shutdown(): Promise<void> {
    this.shutdownDone ??= this.doShutdown();
    return this.shutdownDone;
  }

  private async doShutdown(): Promise<void> {
    const daemon = this.daemon!;
    this.proxies?.close();
    const budget = Lifecycle.budget(SHUTDOWN_BUDGET_MS);
    try {
      if (!daemon.hasExited()) {
        if (this.services) {
          try { await this.services.onShutdown(budget.signal); } catch (e) {
            log(`Error ensuring services are not advertised: ${errText(e)}`);
          }
        }
        // In-memory state: log out so an ephemeral node leaves the tailnet now (upstream #14805).
        // Not in one-step mode: its config file is locked and tailscaled refuses the logout.
        if (this.reachedRunning && this.s.stateDir === '' && this.s.kubeSecret === '' && !isOneStepConfig(this.s)) {
          log('Logging out: tailscaled state is in memory, so this node cannot be reused after exit');
          const t = Lifecycle.budget(LOGOUT_TIMEOUT_MS);
          try {
            await this.client.call('POST', '/localapi/v0/logout', { signal: AbortSignal.any([t.signal, budget.signal]) });
          } catch (e) {
            log(`Error logging out: ${errText(e)}`);
          } finally {
            t.clear();
          }
        }
        if (this.hasKubeStateStore && this.kube) {
          log('Checking for consistent state');
          await this.kube.waitConsistentState(budget.signal);
        }
      }
      this.services?.close();
      log('Sending SIGTERM to tailscaled');
      daemon.signal('SIGTERM');
      await daemon.exited;
    } finally {
      budget.clear();
      this.firewall?.close();
    }
  }
}

/** Thrown to leave the boot flow after a completed graceful exit (auth-key reissue success). */
class CancelledExit extends CancelledError {}

