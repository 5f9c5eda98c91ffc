// nftables backend: the map layout (nftPlan.ts), one libnftables call per batch (one kernel
// transaction), no processes.
import type { Family } from '../util/netip.js';
import type { Backend } from './engine.js';
import { FirewallApplyError } from './errors.js';
import { nftRun } from './libnftables.js';
import type { GroupWant } from './model.js';
import { emptyNftSnapshot, planNft, planNftTeardown, type NftOp, type NftSnapshot } from './nftPlan.js';
import { nftListCmd, parseNftList, renderNft } from './nftText.js';
import { parseUpstreamNft, upstreamNftListCmds } from './upstreamNft.js';

export class NftablesBackend implements Backend<NftSnapshot, NftOp> {
  readonly mode = 'nftables' as const;

  constructor(readonly families: readonly Family[], private readonly run: (cmds: string) => string = nftRun) {}

  async list(): Promise<NftSnapshot> {
    const snap = emptyNftSnapshot();
    for (const f of this.families) {
      const cmds = [nftListCmd(f), ...upstreamNftListCmds(f)];
      for (const [i, cmd] of cmds.entries()) {
        let json;
        try {
          json = this.run(cmd);
        } catch (err) {
          // No table means nothing of ours (or of upstream's) is there.
          if (err instanceof FirewallApplyError && err.code === 'ENOENT') continue;
          throw err;
        }
        if (i === 0) parseNftList(json, f, snap);
        else snap.upstream.push(...parseUpstreamNft(json, f));
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
