// nftables backend: the map layout (nftPlan.ts), one libnftables call per batch (one kernel
// transaction), no processes.
import type { Family } from '../util/netip.js';
import type { Backend } from './engine.js';
import { FirewallApplyError } from './errors.js';
import { nftRun } from './libnftables.js';
import type { GroupWant } from './model.js';
import { emptyNftSnapshot, planNft, planNftTeardown, type NftOp, type NftSnapshot } from './nftPlan.js';
import { nftListCmd, parseNftList, renderNft } from './nftText.js';

export class NftablesBackend implements Backend<NftSnapshot, NftOp> {
  readonly mode = 'nftables' as const;

  constructor(readonly families: readonly Family[], private readonly run: (cmds: string) => string = nftRun) {}

  async list(): Promise<NftSnapshot> {
    const snap = emptyNftSnapshot();
    for (const f of this.families) {
      try {
        parseNftList(this.run(nftListCmd(f)), f, snap);
      } catch (err) {
        // No table yet means nothing of ours is installed.
        if (err instanceof FirewallApplyError && err.code === 'ENOENT') continue;
        throw err;
      }
    }
    return snap;
  }

  plan(snap: NftSnapshot, wants: GroupWant[]): { ops: NftOp[]; next: NftSnapshot } {
    return planNft(snap, wants, this.families);
  }

  teardown(snap: NftSnapshot): { ops: NftOp[]; next: NftSnapshot } {
    return planNftTeardown(snap, this.families);
  }

  async apply(ops: NftOp[]): Promise<void> {
    if (ops.length) this.run(renderNft(ops));
  }

  close(): void {}
}
