// nftables backend: one libnftables call per batch (one kernel transaction), no processes.
import type { Family } from '../util/netip.js';
import type { Backend } from './engine.js';
import { FirewallApplyError } from './errors.js';
import { nftRun } from './libnftables.js';
import { nftListCmd, parseNftList, renderNft } from './nftText.js';
import { emptySnapshot, type Op, type Snapshot } from './plan.js';

export class NftablesBackend implements Backend {
  readonly mode = 'nftables' as const;

  constructor(readonly families: readonly Family[], private readonly run: (cmds: string) => string = nftRun) {}

  async list(): Promise<Snapshot> {
    const snap = emptySnapshot();
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

  async apply(ops: Op[]): Promise<void> {
    if (ops.length) this.run(renderNft(ops));
  }

  close(): void {}
}
