// iptables backend: reads with iptables-save, writes one iptables-restore --noflush per family per
// batch. Works with the legacy and the nf_tables variants; the variant is the one `iptables` is.
import type { Family } from '../util/netip.js';
import type { Backend } from './engine.js';
import { codeFromText, FirewallApplyError } from './errors.js';
import { parseSave, renderRestore } from './iptablesText.js';
import { emptySnapshot, opFamilies, planChains, planTeardown, type Op, type Snapshot } from './plan.js';
import type { GroupWant } from './model.js';
import { runProcess, type Runner } from './spawn.js';

export type IptablesVariant = 'legacy' | 'nft' | '';

export interface IptablesTools {
  save: Record<Family, string>;
  restore: Record<Family, string>;
}

/** Tool names for a variant: `iptables-legacy-restore` etc., or the plain names for ''. */
export function iptablesTools(variant: IptablesVariant): IptablesTools {
  const v = variant ? `-${variant}` : '';
  return {
    save: { 4: `iptables${v}-save`, 6: `ip6tables${v}-save` },
    restore: { 4: `iptables${v}-restore`, 6: `ip6tables${v}-restore` },
  };
}

/** The variant `iptables --version` reports: `iptables v1.8.9 (legacy)` / `(nf_tables)`. */
export function variantFromVersion(text: string): IptablesVariant {
  if (/\(legacy\)/.test(text)) return 'legacy';
  if (/\(nf_tables\)/.test(text)) return 'nft';
  return '';
}

export class IptablesBackend implements Backend<Snapshot, Op> {
  readonly mode = 'iptables' as const;

  constructor(
    readonly families: readonly Family[],
    private readonly tools: IptablesTools,
    private readonly run: Runner = runProcess,
  ) {}

  async list(): Promise<Snapshot> {
    const snap = emptySnapshot();
    for (const f of this.families) {
      const r = await this.run(this.tools.save[f], []);
      if (r.code !== 0) {
        throw new FirewallApplyError(`listing rules: ${this.tools.save[f]} failed (exit ${r.code}): ${r.stderr.trim()}`, codeFromText(r.stderr), r.stderr);
      }
      parseSave(r.stdout, f, snap);
    }
    return snap;
  }

  plan(snap: Snapshot, wants: GroupWant[]): { ops: Op[]; next: Snapshot } {
    return planChains(snap, wants);
  }

  teardown(snap: Snapshot): { ops: Op[]; next: Snapshot } {
    return planTeardown(snap);
  }

  async apply(ops: Op[]): Promise<void> {
    for (const f of opFamilies(ops)) {
      const input = renderRestore(ops, f);
      if (!input) continue;
      const tool = this.tools.restore[f];
      const r = await this.run(tool, ['-w', '--noflush'], input);
      if (r.code !== 0) {
        throw new FirewallApplyError(`applying rules: ${tool} failed (exit ${r.code}): ${r.stderr.trim()}`, codeFromText(r.stderr), r.stderr);
      }
    }
  }

  close(): void {}
}
