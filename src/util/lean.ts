// Cheap stand-ins for two Node conveniences that load whole subsystems on first use (measured,
// docs/DECISIONS.md "What is loaded at start-up"): the `performance` global pulls in perf_hooks,
// `module` and the source-map support (~1.1 MB RSS); `node:fs/promises` pulls in the FileHandle
// and readline code (~1.5 MB). The bootstrap already has process.hrtime and the callback fs.
import { readFile as readFileCallback } from 'node:fs';

/** Monotonic milliseconds (same clock as performance.now(), different origin). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** fs.promises.readFile(file, 'utf8') without loading fs/promises. */
export function readTextFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => readFileCallback(file, 'utf8', (err, text) => (err ? reject(err) : resolve(text))));
}
