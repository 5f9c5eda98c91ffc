// libnftables.so.1 through koffi: one context per process, JSON output, errors as typed errors.
// Loaded lazily so fake mode and iptables mode never open netlink or load the library.
import { monotonicMs } from '../util/lean.js';
import { nativeRequire } from '../util/nativeRequire.js';
import { codeFromText, FirewallApplyError } from './errors.js';

const NFT_CTX_OUTPUT_HANDLE = 8;
const NFT_CTX_OUTPUT_JSON = 16;

interface Binding {
  ctx: unknown;
  run: (ctx: unknown, buf: string) => number;
  getOut: (ctx: unknown) => string | null;
  getErr: (ctx: unknown) => string | null;
}

let binding: Binding | undefined;
/** Calls and time spent inside libnftables (benchmarks split JS time from kernel time). */
export const nftStats = { calls: 0, ms: 0 };

function load(): Binding {
  if (binding) return binding;
  // koffi is CommonJS with a native addon; require keeps it out of the bundle (it is external).
  let koffi;
  try {
    koffi = nativeRequire('koffi') as typeof import('koffi');
  } catch (err) {
    throw new Error(`loading koffi: ${(err as Error).message}`);
  }
  let lib;
  try {
    lib = koffi.load('libnftables.so.1');
  } catch (err) {
    throw new Error(`loading libnftables.so.1: ${(err as Error).message}`);
  }
  koffi.opaque('nft_ctx');
  const ctxNew = lib.func('nft_ctx * nft_ctx_new(uint32_t flags)');
  const getFlags = lib.func('unsigned int nft_ctx_output_get_flags(nft_ctx *ctx)');
  const setFlags = lib.func('void nft_ctx_output_set_flags(nft_ctx *ctx, unsigned int flags)');
  const bufOut = lib.func('int nft_ctx_buffer_output(nft_ctx *ctx)');
  const bufErr = lib.func('int nft_ctx_buffer_error(nft_ctx *ctx)');
  const getOut = lib.func('const char * nft_ctx_get_output_buffer(nft_ctx *ctx)');
  const getErr = lib.func('const char * nft_ctx_get_error_buffer(nft_ctx *ctx)');
  const run = lib.func('int nft_run_cmd_from_buffer(nft_ctx *ctx, const char *buf)');
  const ctx = ctxNew(0);
  if (!ctx) throw new Error('nft_ctx_new failed');
  // JSON output also makes libnftables 1.0.6 accept JSON input; we send nft syntax either way.
  setFlags(ctx, getFlags(ctx) | NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  bufOut(ctx);
  bufErr(ctx);
  binding = { ctx, run, getOut, getErr };
  return binding;
}

/** Loads the library and creates the process's context (throws a clear Error if unavailable). */
export function ensureLibnftables(): void {
  load();
}

/**
 * Runs one buffer as one transaction. Returns the output (JSON for list commands).
 * Throws FirewallApplyError with the errno mapped from libnftables' error text.
 */
export function nftRun(cmds: string): string {
  const b = load();
  nftStats.calls++;
  const t0 = monotonicMs();
  const rc = b.run(b.ctx, cmds);
  nftStats.ms += monotonicMs() - t0;
  // Both buffers rewind on read: always read both so the next call starts clean.
  const out = b.getOut(b.ctx) ?? '';
  const err = b.getErr(b.ctx) ?? '';
  if (rc !== 0) {
    const first = err.split('\n').find((l) => l.includes('Error')) ?? err.trim();
    throw new FirewallApplyError(`nftables: ${first.trim() || 'command failed'}`, codeFromText(err), err);
  }
  return out;
}
