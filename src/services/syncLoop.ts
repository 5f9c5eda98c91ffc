// Runs a sync function so that runs never overlap: triggers during a run coalesce into one more
// run. The first error thrown by a run is fatal: it resolves `failed` and stops the loop.
import { noteWork } from '../proc/memoryUpkeep.js';

export class SyncLoop {
  readonly failed: Promise<Error>;
  private fail!: (e: Error) => void;
  private dead = false;
  private dirty = false;
  private running: Promise<void> | undefined;

  constructor(private readonly run: () => Promise<void>) {
    this.failed = new Promise((r) => { this.fail = r; });
  }

  get stopped(): boolean {
    return this.dead;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Whether a run has been requested and not started yet. */
  get pending(): boolean {
    return this.dirty;
  }

  die(err: unknown): void {
    if (this.dead) return;
    this.dead = true;
    this.fail(err instanceof Error ? err : new Error(String(err)));
  }

  /** Stops without failing (close). */
  stop(): void {
    this.dead = true;
  }

  trigger(): void {
    this.dirty = true;
    if (this.running !== undefined || this.dead) return;
    this.running = (async () => {
      try {
        while (this.dirty && !this.dead) {
          this.dirty = false;
          await this.run();
        }
        noteWork();
      } catch (e) {
        this.die(e);
      } finally {
        this.running = undefined;
      }
    })();
  }

  /** Resolves when no run is active or pending. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }
}

/**
 * Lifecycle shared by the file-driven runners (egress, ingress, serve config): one SyncLoop over
 * `sync()`, an abort signal for their I/O, an optional directory watch, and an orderly close.
 */
export abstract class WatchedSyncRunner {
  /** Resolves with the error that must end containerboot. */
  readonly failed: Promise<Error>;
  protected readonly loop = new SyncLoop(() => this.sync());
  protected readonly abort = new AbortController();
  protected watcher: { close(): Promise<void> } | undefined;
  protected closed = false;

  constructor() {
    this.failed = this.loop.failed;
  }

  protected abstract sync(): Promise<void>;

  async close(): Promise<void> {
    this.closed = true;
    this.loop.stop();
    this.abort.abort();
    await this.watcher?.close();
    await this.loop.idle().catch(() => undefined);
  }
}
