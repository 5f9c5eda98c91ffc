// The shutdown phase removes our firewall rules on a clean exit (SIGTERM/SIGINT, nothing failed)
// and keeps them otherwise (a fatal error, tailscaled dying), so a restart keeps forwarding.
import { describe, expect, it } from 'vitest';
import { exitFor } from '../../src/boot/shutdown.js';
import { Fatal, newBootState, TaskFailure, type BootState } from '../../src/boot/state.js';
import { FakeFirewall } from '../../src/firewall/fake.js';
import { Lifecycle } from '../../src/lifecycle.js';
import { LocalAPIClient } from '../../src/localapi/client.js';
import { setLogSink } from '../../src/log.js';
import type { Daemon } from '../../src/proc/tailscaled.js';
import { settingsFromEnv } from '../../src/settings/fromEnv.js';

async function scenario(end: 'sigterm' | 'fatal' | 'died' | 'sigterm-after-failure') {
  const logs: string[] = [];
  setLogSink((l) => logs.push(l.trimEnd()));
  const fw = new FakeFirewall(true);
  await fw.apply({ 'proxy-dest-ip': [{ kind: 'dnat', family: 4, dst: '100.64.0.1', to: '10.0.0.5' }, { kind: 'clamp-mss', family: 4 }] });
  let exited = false;
  const daemon: Daemon = {
    pid: 1,
    exited: Promise.resolve({ code: end === 'died' ? 1 : 0, signal: null } as never),
    hasExited: () => exited,
    signal: () => { exited = true; },
  };
  const st: BootState = { ...newBootState(), stage: 'started', daemon, firewall: fw };
  const lc = new Lifecycle();
  const tasks = new TaskFailure();
  const s = settingsFromEnv({ TS_AUTHKEY: 'k', TS_STATE_DIR: '/tmp/x', TS_USERSPACE: 'false', TS_DEST_IP: '10.0.0.5' }).settings;
  const d = { s, client: new LocalAPIClient('/nonexistent.sock'), lc, tasks };
  let err: unknown = new Error('cancelled');
  if (end === 'sigterm' || end === 'sigterm-after-failure') lc.root.abort();
  if (end === 'sigterm-after-failure') tasks.fail(new Error('proxy rules failed'));
  if (end === 'fatal') err = new Fatal('boom');
  if (end === 'died') { exited = true; lc.died.abort(); }
  const code = await exitFor(d, st, err);
  setLogSink(() => undefined);
  return { code, rules: fw.rules(), logs };
}

describe('firewall rules at exit', () => {
  it('a clean exit (SIGTERM) removes all our rules', async () => {
    const r = await scenario('sigterm');
    expect(r.code).toBe(0);
    expect(r.rules).toEqual([]);
  });

  it.each(['fatal', 'died', 'sigterm-after-failure'] as const)('%s keeps them', async (end) => {
    const r = await scenario(end);
    expect(r.code).not.toBe(0);
    expect(r.rules.filter((l) => l.includes('DNAT --to-destination 10.0.0.5'))).toHaveLength(1);
    expect(r.rules.filter((l) => l.includes('TCPMSS'))).toHaveLength(2);
  });
});
