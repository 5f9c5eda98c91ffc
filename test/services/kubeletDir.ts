// A directory laid out like a kubelet ConfigMap/Secret volume: files are symlinks through
// `..data`, and an update swaps `..data` atomically to a new timestamped directory.
import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export class KubeletDir {
  private gen = 0;
  private constructor(readonly dir: string, private names: string[]) {}

  static async create(files: Record<string, string | { link: string }>): Promise<KubeletDir> {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-kubelet-'));
    const k = new KubeletDir(dir, Object.keys(files));
    await k.update(files);
    for (const n of k.names) await symlink(path.join('..data', n), path.join(dir, n));
    return k;
  }

  /** Swaps in new contents; `{ link }` makes the entry a symlink (e.g. to itself: a loop). */
  async update(files: Record<string, string | { link: string }>): Promise<void> {
    const old = this.gen;
    this.gen++;
    const ts = path.join(this.dir, `..2026_11_22_${this.gen}`);
    await mkdir(ts);
    for (const [n, v] of Object.entries(files)) {
      if (typeof v === 'string') await writeFile(path.join(ts, n), v); else await symlink(v.link, path.join(ts, n));
    }
    for (const n of Object.keys(files)) {
      if (!this.names.includes(n)) {
        this.names.push(n);
        await symlink(path.join('..data', n), path.join(this.dir, n));
      }
    }
    await symlink(path.basename(ts), path.join(this.dir, '..data_tmp'));
    await rename(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    if (old > 0) await rm(path.join(this.dir, `..2026_11_22_${old}`), { recursive: true, force: true });
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
