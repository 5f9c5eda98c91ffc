// Imperative shell of HA ingress services (spec §7.2): watches the config file's directory,
// plans, applies one firewall batch per sync and writes `ingress-config.json` when needed.
// Ingress services do not depend on the netmap.
import path from 'node:path';
import type chokidar from 'chokidar';
import type { Firewall } from '../../firewall/types.js';
import type { KubeStateStore } from '../../kube/facade.js';
import { log as defaultLog } from '../../log.js';
import type { Settings } from '../../settings/types.js';
import { AppliedGroups } from '../appliedGroups.js';
import { watchDir } from '../dirWatch.js';
import { ConfigFileError } from '../egress/config.js';
import { WatchedSyncRunner } from '../syncLoop.js';
import { INGRESS_STATUS_KEY, parseIngressStatus, readIngressConfigs, serializeIngressStatus, type IngressStatus } from './config.js';
import { planIngress } from './plan.js';

export interface IngressServicesDeps {
  settings: Pick<Settings, 'ingressProxiesCfgPath' | 'podIPv4' | 'podIPv6'>;
  firewall: Firewall;
  kube?: KubeStateStore;
  log?: (msg: string) => void;
  watch?: typeof chokidar.watch;
  tickMs?: number;
}

export class IngressServices extends WatchedSyncRunner {
  private readonly log: (m: string) => void;
  private status: IngressStatus | undefined;
  private readonly groups = new AppliedGroups();

  constructor(private readonly deps: IngressServicesDeps) {
    super();
    this.log = deps.log ?? defaultLog;
  }

  /** Loads the stored status, starts watching and runs the first sync. Never rejects. */
  async start(): Promise<void> {
    try {
      const file = this.deps.settings.ingressProxiesCfgPath;
      await this.loadStatus();
      this.watcher = await watchDir(path.dirname(file), () => { if (!this.closed) this.loop.trigger(); }, {
        onFallback: (err) => this.log(`failed to create fsnotify watcher, timer-only mode: ${err.message}`),
        onTick: () => undefined,
        tickMs: this.deps.tickMs,
        watch: this.deps.watch,
      });
      this.loop.trigger();
      await this.loop.idle();
    } catch (e) {
      if (!this.closed) this.loop.die(e);
    }
  }

  private async loadStatus(): Promise<void> {
    const secret = await this.deps.kube?.getSecret(this.abort.signal);
    const text = secret?.[INGRESS_STATUS_KEY];
    if (text === undefined || text === '') return;
    try {
      this.status = parseIngressStatus(text);
    } catch (e) {
      throw new Error(`error reading ingress services status: ${(e as Error).message}`);
    }
  }

  idle(): Promise<void> {
    return this.loop.idle();
  }

  protected async sync(): Promise<void> {
    let configs;
    try {
      configs = await readIngressConfigs(this.deps.settings.ingressProxiesCfgPath);
    } catch (e) {
      if (!(e instanceof ConfigFileError)) throw e;
      this.log(`${e.message}; keeping the current ingress firewall rules and status`);
      return;
    }
    const { podIPv4, podIPv6 } = this.deps.settings;
    const plan = planIngress(configs, this.status, podIPv4, podIPv6);
    for (const l of plan.logs) this.log(l);
    const keys: Record<string, string> = {};
    for (const [g, rules] of Object.entries(plan.groups)) keys[g] = rules.length === 0 ? '' : JSON.stringify(rules);
    await this.groups.apply(this.deps.firewall, plan.groups, keys);
    if (plan.status !== undefined) {
      await this.deps.kube?.replaceKey(INGRESS_STATUS_KEY, serializeIngressStatus(plan.status), this.abort.signal);
      this.status = plan.status;
    }
  }

}
