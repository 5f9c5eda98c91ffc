// Writes a directory the way kubelet's AtomicWriter updates a mounted Secret: files live in a
// timestamped `..<ts>` directory, `..data` is a symlink to it that is replaced by rename, and each
// visible name is a symlink through `..data`.
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync, readlinkSync } from 'node:fs';
import path from 'node:path';

let seq = 0;

export function writeAtomically(dir: string, files: Record<string, string>): void {
  const ts = `..2026_11_22_00_00_00.${process.pid}_${++seq}`;
  mkdirSync(path.join(dir, ts), { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, ts, name), content);
  const data = path.join(dir, '..data');
  const old = existsSync(data) ? readlinkSync(data) : undefined;
  symlinkSync(ts, path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), data);
  for (const name of Object.keys(files)) {
    if (!existsSync(path.join(dir, name))) symlinkSync(path.join('..data', name), path.join(dir, name));
  }
  if (old) rmSync(path.join(dir, old), { recursive: true, force: true });
}
