// The services tests' view of the one fake LocalAPI (fakeLocalAPI.ts): started already Running in
// its own temp dir, with the call log and bus helpers those tests use.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeLocalAPI, type RecordedRequest } from './fakeLocalAPI.js';

export type { CertAnswer } from './fakeLocalAPI.js';
export type Recorded = RecordedRequest;

export class FakeLocalAPIServices extends FakeLocalAPI {
  private dir = '';

  get socket(): string {
    return this.socketPath;
  }

  static async start(): Promise<FakeLocalAPIServices> {
    const dir = await mkdtemp(path.join(tmpdir(), 'cb-lapi-'));
    const f = new FakeLocalAPIServices(path.join(dir, 'ts.sock'));
    f.dir = dir;
    // Serve-config writes need a netmap; the cert loops' mask-8 watch starts with a SelfChange.
    f.state = 'Running';
    f.self = { ID: 1, StableID: 'nSelf', Name: 'node.tailnet.ts.net.', Addresses: ['100.64.0.1/32'] };
    await f.listen();
    return f;
  }

  get calls(): RecordedRequest[] {
    return this.requests;
  }

  /** Sends a notification, exactly as given, to every open bus watch. */
  push(n: object): void {
    this.writeRaw(`${JSON.stringify(n)}\n`);
  }

  get busCount(): number {
    return this.openWatches;
  }

  override async close(): Promise<void> {
    await super.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
