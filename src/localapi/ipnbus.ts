// watch-ipn-bus: an endless NDJSON stream of Notify objects (localapi.md §1.4). Lines may be split
// across chunks; a watch ends on EOF, a decode error, or its abort signal.
import type { LocalAPIClient } from './client.js';
import type { RawResponse } from './rawHttp.js';
import { parseJSONLossless } from './json.js';
import type { Notify } from './notify.js';
import { decodeNotify } from './notifyShape.js';

/** InitialStatus|PeerChanges|NoNetMap|InitialPrefs|InitialHealthState */
export const MASK_BOOT = 28804;
/** InitialStatus|PeerChanges|NoNetMap */
export const MASK_RUN = 28672;

/** Splits a byte stream into lines; keeps the unterminated tail for the next chunk. */
export class LineSplitter {
  private tail = '';
  push(chunk: string): string[] {
    const text = this.tail + chunk;
    const parts = text.split('\n');
    this.tail = parts.pop() ?? '';
    return parts.filter((l) => l.trim() !== '');
  }
}

export class BusWatch {
  private readonly queue: Notify[] = [];
  private waiter?: { resolve: (n: Notify) => void; reject: (e: Error) => void };
  private failure?: Error;

  private constructor(private readonly res: RawResponse, private readonly signal?: AbortSignal) {
    const split = new LineSplitter();
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      for (const line of split.push(chunk)) {
        let n: Notify;
        try { n = decodeNotify(parseJSONLossless(line)); } catch (e) {
          this.fail(new Error(`decoding notification: ${(e as Error).message}`));
          return;
        }
        this.deliver(n);
      }
    });
    res.on('end', () => this.fail(new Error('EOF')));
    res.on('error', (e) => this.fail(e));
    res.on('close', () => this.fail(new Error('EOF')));
  }

  static async open(client: LocalAPIClient, mask: number, signal?: AbortSignal): Promise<BusWatch> {
    const res = await client.open('GET', `/localapi/v0/watch-ipn-bus?mask=${mask}`, { signal });
    if (res.statusCode !== 200) {
      let body = '';
      res.setEncoding('utf8');
      for await (const c of res) body += c;
      throw new Error(`${res.statusCode} ${res.statusMessage}: ${body.trim()}`);
    }
    return new BusWatch(res, signal);
  }

  private deliver(n: Notify): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(n);
    } else {
      this.queue.push(n);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    // When the watch's own context ended, report that instead of the read error (like Go).
    this.failure = this.signal?.aborted ? abortReason(this.signal) : e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failure);
    }
  }

  /** Next notification; rejects when the stream ends or the signal fires. */
  next(): Promise<Notify> {
    const n = this.queue.shift();
    if (n) return Promise.resolve(n);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  /** Ends the watch: the connection is destroyed (which also drops its abort listener). */
  close(): void {
    this.fail(new Error('watch closed'));
    this.res.destroy();
  }
}

/** The error for an aborted signal: its reason if it is an Error, else a "context canceled" error. */
export function abortReason(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new Error('context canceled');
}
