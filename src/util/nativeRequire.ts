// `require` for native addons kept out of the bundle (koffi). Works from the CommonJS bundle
// (__filename), from ESM sources under the test runner (import.meta.url), and as a last resort
// relative to the working directory.
import { createRequire } from 'node:module';

const loaded = new Set<string>();

/** Whether `id` was loaded through nativeRequire (callers that must not pay for loading it). */
export function nativeLoaded(id: string): boolean {
  return loaded.has(id);
}

export function nativeRequire(id: string): unknown {
  const meta = import.meta as { url?: string };
  const base = typeof __filename === 'string' ? __filename : meta.url ?? `${process.cwd()}/index.js`;
  const mod = createRequire(base)(id);
  loaded.add(id);
  return mod;
}
