// Imperative shell of HA egress services (spec §7.1): watches the config directory, follows
// netmap pushes, runs the planner and applies its result as one firewall batch, then writes the
// status to the state Secret when it changed. Syncs never overlap; triggers that arrive during a
// sync coalesce into one more sync.
import type chokidar from 'chokidar';
import type { Firewall } from '../../firewall/types.js';
import type { KubeStateStore } from '../../kube/facade.js';
import { log as defaultLog } from '../../log.js';
import { hasValidSelf, type NetmapState } from '../../netmap/types.js';
import { resolveTailnetFQDN } from '../../proxies/resolveTailnetFQDN.js';
import type { Settings } from '../../settings/types.js';
import { AppliedGroups } from '../appliedGroups.js';
import { watchDir } from '../dirWatch.js';
import { WatchedSyncRunner } from '../syncLoop.js';
import { collectGarbage } from '../../util/collect.js';
import { ConfigFileError, egressConfigFile, parseEgressConfigs, readEgressConfigText, type EgressConfigs } from './config.js';
import { planEgress } from './plan.js';
import { EGRESS_STATUS_KEY, isOwnStatus, parseEgressStatus, serializeEgressStatus, type EgressStatus } from './status.js';
import { targetResolverFor, type FullResolver } from './targets.js';

export interface EgressServicesDeps {
  settings: Pick<Settings, 'egressProxiesCfgPath' | 'podIPv4' | 'podIPv6'>;
  firewall: Firewall;
  /** State Secret; undefined keeps the status in memory only. */
  kube?: KubeStateStore;
  resolve?: FullResolver;
  log?: (msg: string) => void;
  /** Tests: replace chokidar / the fallback tick period. */
  watch?: typeof chokidar.watch;
  tickMs?: number;
}

/** Planned groups (services) from which a sync's garbage is collected at once (see collect.ts). */
const LARGE_SYNC_GROUPS = 50;

function addrsKey(a: string[] | undefined): string {
  return a === undefined ? '' : a.join(',');
}

export class EgressServices extends WatchedSyncRunner {
  private readonly log: (m: string) => void;
  private readonly resolveFull: FullResolver;

  private netmap: NetmapState | undefined;
  private resolver: ((fqdn: string) => string[]) | undefined;
  private status: EgressStatus | undefined;
  private readonly groups = new AppliedGroups();
  /** Own addresses and FQDN resolutions the current rules were built from. */
  private syncedAddrs: string | undefined;
  private syncedTargets = new Map<string, string[]>();
  /** Parsed config of the last read; re-read only after a file event (netmap syncs reuse it). */
  private configs: EgressConfigs | undefined;
  /** The text `configs` was parsed from (a kubelet update fires several file events for one change). */
  private configText: string | undefined;
  private configDirty = true;
  /** Inputs of the last sync that changed nothing and logged nothing: the same inputs again are a no-op. */
  private settled: { configs: EgressConfigs; status: EgressStatus | undefined; resolver: unknown; addrs: string; ipv6: boolean } | undefined;

  constructor(private readonly deps: EgressServicesDeps) {
    super();
    this.log = deps.log ?? defaultLog;
    this.resolveFull = deps.resolve ?? resolveTailnetFQDN;
  }

  private die(err: unknown): void {
    if (!this.closed) this.loop.die(err);
  }

  private get dir(): string {
    return this.deps.settings.egressProxiesCfgPath;
  }

  /**
   * Loads the stored status, starts watching the config directory and runs the first sync
   * against `netmap`. Never rejects: fatal errors resolve `failed`.
   */
  async start(netmap: NetmapState): Promise<void> {
    try {
      this.setNetmap(netmap);
      await this.loadStatus();
      this.watcher = await watchDir(this.dir, (via) => this.onFileEvent(via), {
        onFallback: (err) => this.log(`failed to create fsnotify watcher, timer-only mode: ${err.message}`),
        onTick: () => this.log('periodic sync, ensuring firewall config is up to date...'),
        tickMs: this.deps.tickMs,
        watch: this.deps.watch,
      });
      // Start-up's garbage goes before the first sync, whose allocations then reuse its space.
      collectGarbage();
      this.requestSync();
      await this.idle();
    } catch (e) {
      this.die(e);
    }
  }

  private async loadStatus(): Promise<void> {
    const kube = this.deps.kube;
    if (kube === undefined) return;
    const secret = await kube.getSecret(this.abort.signal);
    const text = secret?.[EGRESS_STATUS_KEY];
    if (text === undefined || text === '') return;
    let st: EgressStatus;
    try {
      st = parseEgressStatus(text);
    } catch (e) {
      throw new Error(`error reading egress services status: ${(e as Error).message}`);
    }
    const { podIPv4, podIPv6 } = this.deps.settings;
    if (isOwnStatus(st, podIPv4, podIPv6)) this.status = st;
  }

  private onFileEvent(via: 'watch' | 'tick'): void {
    this.configDirty = true;
    if (via === 'watch' && !this.loop.pending) this.log('config file change detected, ensuring firewall config is up to date...');
    this.requestSync();
  }

  private setNetmap(state: NetmapState): void {
    this.netmap = state;
    this.resolver = targetResolverFor(state, this.resolveFull);
  }

  private selfAddrs(): string[] | undefined {
    return this.netmap !== undefined && hasValidSelf(this.netmap) ? this.netmap.self!.addresses : undefined;
  }

  /** Called by the run loop after every processed netmap; resyncs only when it matters. */
  onNetmap(state: NetmapState): void {
    if (this.closed || this.loop.stopped) return;
    this.setNetmap(state);
    if (this.syncedAddrs === undefined) {
      // No sync has completed yet: if one is running, make sure it is redone with this netmap.
      if (this.loop.busy) this.requestSync();
      return;
    }
    if (addrsKey(this.selfAddrs()) !== this.syncedAddrs) {
      this.log('node addresses have changed, trigger egress config resync');
      this.requestSync();
      return;
    }
    if (this.selfAddrs() === undefined) return;
    for (const [fqdn, old] of this.syncedTargets) {
      let now: string[];
      try { now = this.resolver!(fqdn); } catch { now = []; }
      if (now.join(' ') !== old.join(' ')) {
        this.log(`backend addresses for egress target "${fqdn}" have changed old IPs [${old.join(' ')}], new IPs [${now.join(' ')}] trigger egress config resync`);
        this.requestSync();
        return;
      }
    }
  }

  private requestSync(): void {
    if (!this.closed) this.loop.trigger();
  }

  /** Resolves when no sync is running or pending (tests, benchmarks). */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  protected async sync(): Promise<void> {
    if (this.configDirty || this.configs === undefined) {
      this.configDirty = false;
      try {
        const text = await readEgressConfigText(this.dir);
        if (this.configs === undefined || text !== this.configText) {
          this.configs = undefined; // the old parse can be collected while the new one is built
          this.configs = text === undefined ? new Map() : parseEgressConfigs(text, egressConfigFile(this.dir));
          this.configText = text;
        }
      } catch (e) {
        if (!(e instanceof ConfigFileError)) throw e;
        this.configs = undefined;
        this.log(`${e.message}; keeping the current egress firewall rules and status`);
        return;
      }
    }
    const configs = this.configs;
    const { podIPv4, podIPv6 } = this.deps.settings;
    const selfAddrs = this.selfAddrs();
    const inputs = { configs, status: this.status, resolver: this.resolver, addrs: addrsKey(selfAddrs), ipv6: this.deps.firewall.hasIPv6NAT() };
    const s = this.settled;
    if (s !== undefined && s.configs === inputs.configs && s.status === inputs.status && s.resolver === inputs.resolver && s.addrs === inputs.addrs && s.ipv6 === inputs.ipv6) return;
    this.settled = undefined;
    const plan = planEgress({
      configs, status: this.status, selfAddrs, hasIPv6NAT: inputs.ipv6,
      resolve: this.resolver!, podIPv4, podIPv6,
    });
    for (const l of plan.logs) this.log(l);

    await this.groups.apply(this.deps.firewall, plan.groups, plan.groupKeys);
    if (plan.statusChanged) {
      if (this.deps.kube !== undefined) {
        await this.deps.kube.replaceKey(EGRESS_STATUS_KEY, serializeEgressStatus(plan.status), this.abort.signal);
      }
      this.status = plan.status;
    }
    this.syncedAddrs = inputs.addrs;
    this.syncedTargets = plan.resolved;
    // What the plan needed is now in the kernel and the Secret; the next sync of the same inputs
    // (this status included) would plan the same groups and no status change.
    if (plan.logs.length === 0) this.settled = { ...inputs, status: this.status };
    // Planning many services leaves megabytes of garbage behind (parsing, planning, lowering, rule
    // text, status JSON): collect it now rather than let the next sync pile onto it.
    if (Object.keys(plan.groups).length >= LARGE_SYNC_GROUPS) collectGarbage();
  }

}
