// libc calls Node has no API for (waitpid, mknod), through koffi. Loaded only when needed:
// koffi costs ~11 MB RSS (docs/DECISIONS.md), so the common path never loads it.
import { nativeRequire } from '../util/nativeRequire.js';

interface Libc {
  waitpid(pid: number, status: Int32Array | null, options: number): number;
  mknod(path: string, mode: number, dev: bigint): number;
  errno(): number;
}

let libc: Libc | undefined;

export const WNOHANG = 1;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let handle: { koffi: any; lib: any } | undefined;

/** koffi (external to the bundle: a native addon) and its handle on libc.so.6, opened once. */
function openLibc() {
  if (!handle) {
    const koffi = nativeRequire('koffi') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    handle = { koffi, lib: koffi.load('libc.so.6') };
  }
  return handle;
}

export function loadLibc(): Libc {
  if (libc) return libc;
  const { koffi, lib } = openLibc();
  const waitpid = lib.func('int waitpid(int pid, _Out_ int *status, int options)');
  const mknod = lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');
  const errnoLoc = lib.func('int *__errno_location(void)');
  libc = {
    waitpid: (pid, status, options) => waitpid(pid, status ?? [0], options),
    mknod: (p, mode, dev) => mknod(p, mode, dev),
    errno: () => koffi.decode(errnoLoc(), 'int') as number,
  };
  return libc;
}

let trim: ((pad: number) => number) | null | undefined;

/**
 * glibc's malloc_trim(0): returns free arena memory to the system. False when the C library has
 * no such call (musl); kept apart from loadLibc so its absence never breaks waitpid or mknod.
 */
export function mallocTrim(): boolean {
  if (trim === undefined) {
    try {
      trim = openLibc().lib.func('int malloc_trim(size_t pad)') as (pad: number) => number;
    } catch {
      trim = null;
    }
  }
  if (trim === null) return false;
  trim(0);
  return true;
}
