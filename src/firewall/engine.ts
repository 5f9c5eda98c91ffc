// The Firewall implementation shared by every backend: validate + lower (pure), diff against the
// cached snapshot (listed once, then kept up to date from our own batches), apply ONE batch.
import type { Family } from '../util/netip.js';
import { FirewallApplyError } from './errors.js';
import { lowerGroup, type GroupWant } from './model.js';
import type { Firewall, FirewallMode, ProxyRule } from './types.js';

/**
 * A backend: its layout's pure diff (installed snapshot `S` + wants → ops `O` and the snapshot
 * after them) and its I/O: list what it installed, apply a batch atomically (per family).
 */
export interface Backend<S = unknown, O = unknown> {
  readonly mode: FirewallMode;
  /** Families whose tables can be written. */
  readonly families: readonly Family[];
  list(): Promise<S>;
  plan(snap: S, wants: GroupWant[]): { ops: O[]; next: S };
  /** Removes everything of ours that `snap` holds (chains, tables, clamp rules); nobody else's. */
  teardown(snap: S): { ops: O[]; next: S };
  apply(ops: O[]): Promise<void>;
  close(): void;
}

export class FirewallEngine<S = unknown, O = unknown> implements Firewall {
  private snap: S | undefined;
  /** Last lowering per group, keyed by the group's input, so re-sent unchanged groups cost no validation. */
  private lowered = new Map<string, { input: string; want: GroupWant }>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Number of batches applied (tests and benchmarks read it). */
  batches = 0;

  constructor(readonly backend: Backend<S, O>, private readonly ipv6NAT: boolean) {}

  get mode(): FirewallMode {
    return this.backend.mode;
  }

  hasIPv6NAT(): boolean {
    return this.ipv6NAT;
  }

  /** Lists the installed rules now, so the first apply needs no listing. */
  async prime(): Promise<void> {
    await this.serial(async () => { this.snap = await this.backend.list(); });
  }

  apply(groups: Record<string, ProxyRule[]>, keys?: Record<string, string>): Promise<void> {
    // Validation happens synchronously-before-queueing so bad input never waits on, or reaches, the kernel.
    let wants: GroupWant[];
    try {
      wants = Object.entries(groups).map(([g, rules]) => this.lower(g, rules, keys?.[g]));
      for (const w of wants) this.checkFamilies(w);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(() => this.reconcile((snap) => this.backend.plan(snap, wants)));
  }

  /** Removes all our rules and chains in one batch (clean exit), so the next program starts clean. */
  removeAll(): Promise<void> {
    return this.serial(() => this.reconcile((snap) => this.backend.teardown(snap)));
  }

  close(): void {
    this.backend.close();
  }

  private lower(group: string, rules: ProxyRule[], key: string | undefined): GroupWant {
    // The caller's key, when it has one, instead of the rules' JSON (500 HA groups: ~150 kB of it per sync).
    const input = key === undefined ? JSON.stringify(rules) : `key:${key}`;
    const hit = this.lowered.get(group);
    if (hit && hit.input === input) return hit.want;
    const want = lowerGroup(group, rules);
    this.lowered.set(group, { input, want });
    return want;
  }

  private checkFamilies(w: GroupWant): void {
    const fams = this.backend.families;
    for (const r of w.rules) if (!fams.includes(r.family)) this.noFamily(w, r.family);
    for (const f of w.clamp) if (!fams.includes(f)) this.noFamily(w, f);
  }

  private noFamily(w: GroupWant, f: Family): never {
    throw new FirewallApplyError(`IPv${f} rules requested for ${JSON.stringify(w.group)} but IPv${f} is not available in ${this.mode} mode`, 'EAFNOSUPPORT');
  }

  private async reconcile(planFor: (snap: S) => { ops: O[]; next: S }): Promise<void> {
    const fresh = this.snap === undefined;
    const snap = this.snap ?? (await this.backend.list());
    this.snap = snap;
    const p = planFor(snap);
    if (p.ops.length === 0) { this.snap = p.next; return; }
    try {
      await this.backend.apply(p.ops);
    } catch (err) {
      this.snap = undefined;
      if (fresh) throw err;
      // The cache may be stale (someone else changed the tables): list again and retry once.
      const again = await this.backend.list();
      this.snap = again;
      const retry = planFor(again);
      if (retry.ops.length === 0) { this.snap = retry.next; return; }
      try {
        await this.backend.apply(retry.ops);
      } catch (err2) {
        this.snap = undefined;
        throw err2;
      }
      this.snap = retry.next;
      this.batches++;
      return;
    }
    this.snap = p.next;
    this.batches++;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
