// In-process fake selected by TS_TEST_FAKE_NETFILTER: behaves like iptables (it interprets the
// same iptables-restore text the real backend would send) but keeps the tables in memory. No
// process is spawned and no netlink socket is opened.
import type { Family } from '../util/netip.js';
import { FirewallEngine, type Backend } from './engine.js';
import type { ProxyRule } from './types.js';
import { FirewallApplyError } from './errors.js';
import { parseSave, renderRestore } from './iptablesText.js';
import { emptySnapshot, opFamilies, planChains, planTeardown, type Op, type Snapshot } from './plan.js';
import type { GroupWant } from './model.js';

type Tables = Map<string, Map<string, string[]>>;

function builtins(): Tables {
  return new Map([
    ['nat', new Map([['PREROUTING', []], ['INPUT', []], ['OUTPUT', []], ['POSTROUTING', []]])],
    ['mangle', new Map([['PREROUTING', []], ['INPUT', []], ['FORWARD', []], ['OUTPUT', []], ['POSTROUTING', []]])],
  ]);
}

function clone(t: Tables): Tables {
  return new Map([...t].map(([k, v]) => [k, new Map([...v].map(([c, rules]) => [c, [...rules]]))]));
}

/** Applies iptables-restore --noflush text to in-memory tables, all-or-nothing like the real tool. */
export function interpretRestore(tables: Tables, text: string): Tables {
  const next = clone(tables);
  let table: Map<string, string[]> | undefined;
  const fail = (line: string, why: string): never => {
    throw new FirewallApplyError(`applying rules: iptables-restore (fake): ${why}: ${line}`, 'ENOENT');
  };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) { table = next.get(line.slice(1)) ?? fail(line, 'unknown table'); continue; }
    if (line === 'COMMIT') { table = undefined; continue; }
    if (!table) fail(line, 'rule outside a table');
    const t = table!;
    if (line.startsWith(':')) { t.set(line.slice(1).split(' ')[0], []); continue; }
    const [cmd, chain, ...rest] = line.split(' ');
    const rules = t.get(chain) ?? fail(line, 'No chain/target/match by that name');
    if (cmd === '-A') rules.push(rest.join(' '));
    else if (cmd === '-I') { rest.shift(); rules.unshift(rest.join(' ')); }
    else if (cmd === '-D') {
      const i = rules.indexOf(rest.join(' '));
      if (i < 0) fail(line, 'Bad rule (does a matching rule exist in that chain?)');
      rules.splice(i, 1);
    } else if (cmd === '-X') {
      if (rules.length) fail(line, 'Directory not empty');
      t.delete(chain);
    } else fail(line, 'unsupported command');
  }
  return next;
}

export function renderSave(tables: Tables): string {
  const out: string[] = [];
  for (const [name, chains] of tables) {
    out.push(`*${name}`);
    for (const c of chains.keys()) out.push(`:${c} ${/^[A-Z]+$/.test(c) ? 'ACCEPT' : '-'} [0:0]`);
    for (const [c, rules] of chains) for (const r of rules) out.push(`-A ${c} ${r}`);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

export class FakeBackend implements Backend<Snapshot, Op> {
  readonly mode = 'fake' as const;
  readonly families: readonly Family[] = [4, 6];
  tables: Record<Family, Tables> = { 4: builtins(), 6: builtins() };
  /** Set to make the next apply fail (tests of failed batches). */
  failNext: Error | undefined;

  constructor(ipv6: boolean) {
    // Upstream's fake always has an ip6tables; without IPv6 NAT it still refuses v6 NAT rules.
    if (!ipv6) this.families = [4];
  }

  async list(): Promise<Snapshot> {
    const snap = emptySnapshot();
    for (const f of this.families) parseSave(renderSave(this.tables[f]), f, snap);
    return snap;
  }

  plan(snap: Snapshot, wants: GroupWant[]): { ops: Op[]; next: Snapshot } {
    return planChains(snap, wants);
  }

  teardown(snap: Snapshot): { ops: Op[]; next: Snapshot } {
    return planTeardown(snap);
  }

  async apply(ops: Op[]): Promise<void> {
    if (this.failNext) { const e = this.failNext; this.failNext = undefined; throw e; }
    const next = { ...this.tables };
    for (const f of opFamilies(ops)) next[f] = interpretRestore(this.tables[f], renderRestore(ops, f));
    this.tables = next;
  }

  close(): void {}
}

/** The fake firewall; `rules()` shows what is installed, iptables-save style. */
export class FakeFirewall extends FirewallEngine {
  constructor(readonly ipv6NATAvailable = true) {
    super(new FakeBackend(ipv6NATAvailable), ipv6NATAvailable);
  }

  /** Every `clamp-mss` address passed to apply, in order (upstream's fake recorded these). */
  readonly clampedAddresses: string[] = [];

  override async apply(groups: Record<string, ProxyRule[]>, keys?: Record<string, string>): Promise<void> {
    await super.apply(groups, keys);
    for (const rules of Object.values(groups)) {
      for (const r of rules) if (r.kind === 'clamp-mss' && r.addr !== undefined) this.clampedAddresses.push(r.addr);
    }
  }

  get fake(): FakeBackend {
    return this.backend as FakeBackend;
  }

  /** Installed rules as `<family> <table> -A <chain> <args>` lines, in chain order. */
  rules(): string[] {
    const out: string[] = [];
    for (const f of [4, 6] as const) {
      for (const [table, chains] of this.fake.tables[f]) {
        for (const [c, rules] of chains) for (const r of rules) out.push(`ipv${f} ${table} -A ${c} ${r}`);
      }
    }
    return out;
  }
}
