// A full garbage collection on request, after a burst that left megabytes of garbage in V8's old
// space. V8 starts a mark-compact only when the old generation reaches its limit, so without
// this the garbage of one large sync is still there when the next one allocates, and the peak
// RSS grows with every large sync (docs/DECISIONS.md). The `gc` function comes from a V8 flag set
// at run time and a fresh context (the flag is not on the command line: the image's shebang can
// carry only one).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GC = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;
let gc: GC | null | undefined;

/** Runs a major GC now (no-op when the runtime refuses to expose one). */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as GC;
    } catch {
      gc = null;
    }
  }
  gc?.({ type: 'major', execution: 'sync' });
}
