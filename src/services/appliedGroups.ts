// Remembers which rules each firewall group got from this process, so a sync sends only the
// groups whose rules changed, in one `firewall.apply` batch.
import type { Firewall, ProxyRule } from '../firewall/types.js';

export class AppliedGroups {
  /** Non-empty groups: key of the rules last applied. */
  private readonly applied = new Map<string, string>();
  /** Groups emptied by this process (an empty group is sent once, then no more). */
  private readonly cleared = new Set<string>();

  /**
   * Applies the planned groups whose key changed, plus an empty list for groups applied earlier
   * that the plan no longer mentions. `keys[g]` identifies the rules of `groups[g]` ('' = none).
   */
  async apply(fw: Firewall, groups: Record<string, ProxyRule[]>, keys: Record<string, string>): Promise<void> {
    const batch: Record<string, ProxyRule[]> = {};
    /** The key of each group in the batch (the engine lowers by it). */
    const sent: Record<string, string> = {};
    for (const [g, rules] of Object.entries(groups)) {
      const k = keys[g] ?? '';
      if (k === '' ? this.cleared.has(g) : this.applied.get(g) === k) continue;
      batch[g] = rules;
      sent[g] = k;
    }
    for (const g of this.applied.keys()) {
      if (!(g in groups)) { batch[g] = []; sent[g] = ''; }
    }
    const names = Object.keys(sent);
    if (names.length === 0) return;
    await fw.apply(batch, sent);
    for (const g of names) {
      const k = sent[g]!;
      if (k === '') { this.applied.delete(g); this.cleared.add(g); } else { this.applied.set(g, k); this.cleared.delete(g); }
    }
  }
}
