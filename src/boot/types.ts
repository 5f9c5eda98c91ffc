// The contract between the boot sequence and the optional parts main.ts wires in (kube, firewall,
// proxies, services). src/orchestrator.ts re-exports these; other modules import them from there.
import type { Route } from '../http/routes.js';
import type { KubeStateStore } from '../kube/facade.js';
import type { LocalAPIClient } from '../localapi/client.js';
import type { NetmapState } from '../netmap/types.js';
import type { Firewall } from '../firewall/types.js';
import type { Settings } from '../settings/types.js';

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
  /**
   * Called during the login wait: loads (and runs once, on sample data) the code the configured
   * parts will run after `Running`. Must have no effect outside the process; a failure is ignored
   * (it shows again when the part itself is created).
   */
  preload?: (s: Settings) => Promise<void>;
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
