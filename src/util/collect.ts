// A full garbage collection on request, after a burst that left megabytes of garbage in V8's old
// space. V8 starts a mark-compact only when the old generation reaches its limit, so without
// this the garbage of one large sync is still there when the next one allocates, and the peak
// RSS grows with every large sync (docs/DECISIONS.md). The `gc` function comes from a V8 flag set
// at run time and a fresh context (the flag is not on the command line: the image's shebang can
// carry only one).
// node:v8 and node:vm are fetched at the first call: this module is part of the services code
// that every mode preloads during the login wait.

type GC = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;
let gc: GC | null | undefined;

/**
 * Runs a major GC now (no-op when the runtime refuses to expose one). 'last-resort' collects until
 * nothing more is freed and returns pooled pages to the system (the memory upkeep's flavour).
 */
export function collectGarbage(flavor: 'regular' | 'last-resort' = 'regular'): void {
  if (gc === undefined) {
    try {
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
      gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as GC;
    } catch {
      gc = null;
    }
  }
  gc?.({ type: 'major', execution: 'sync', flavor });
}
