// prepareParts (src/boot/prepare.ts): what is prepared during the login wait is either adopted at
// step 19 or closed by the shutdown routine, and its failures surface only where upstream's would.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareParts } from '../../src/boot/prepare.js';
import { startParts } from '../../src/boot/postLogin.js';
import { newBootState, TaskFailure } from '../../src/boot/state.js';
import type { BootDeps } from '../../src/boot/deps.js';
import type { Components } from '../../src/boot/types.js';
import type { Firewall } from '../../src/firewall/types.js';
import { Lifecycle } from '../../src/lifecycle.js';
import { LocalAPIClient } from '../../src/localapi/client.js';
import { Metrics } from '../../src/http/metrics.js';
import { settingsFromEnv } from '../../src/settings/fromEnv.js';
import { warmRunLoop } from '../../src/boot/warmUp.js';
import { warmFirewallPaths } from '../../src/boot/warmFirewall.js';
import { configuredServices, warmEgressIfLarge, warmEgressPaths, WARM_FROM_SERVICES } from '../../src/boot/warmEgress.js';
import { setLogSink } from '../../src/log.js';

function fakeFirewall(): Firewall & { closed: number } {
  return { mode: 'fake', closed: 0, hasIPv6NAT: () => true, apply: async () => undefined, removeAll: async () => undefined, close() { this.closed++; } };
}

function deps(env: Record<string, string>, c: Components): BootDeps {
  const s = settingsFromEnv({ TS_AUTHKEY: 'k', ...env }).settings;
  return { s, env, c, lc: new Lifecycle(), client: new LocalAPIClient('/nonexistent.sock'), metrics: new Metrics(), tasks: new TaskFailure() };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('prepareParts', () => {
  it('creates the firewall of an L3 proxy at once and records it for the shutdown routine', async () => {
    const fw = fakeFirewall();
    let created = 0;
    const d = deps({ TS_DEST_IP: '10.0.0.1', TS_USERSPACE: 'false' }, { createFirewall: async () => { created++; return fw; } });
    const st = newBootState();
    const p = prepareParts(d, st);
    expect(created).toBe(1);
    await flush();
    expect(st.firewall).toBe(fw);
    await startParts(d, st, p);
    expect(st.firewall).toBe(fw);
    expect(created).toBe(1);
  });

  it('closes a firewall that arrives after the shutdown routine started', async () => {
    const fw = fakeFirewall();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const d = deps({ TS_DEST_IP: '10.0.0.1', TS_USERSPACE: 'false' }, { createFirewall: async () => { await gate; return fw; } });
    const st = newBootState();
    prepareParts(d, st);
    st.shutdown = Promise.resolve();
    release();
    await flush();
    expect(fw.closed).toBe(1);
    expect(st.firewall).toBeUndefined();
  });

  it('keeps a creation error for step 19, with upstream\'s prefix, and ignores a failed preload', async () => {
    const d = deps({ TS_DEST_IP: '10.0.0.1', TS_USERSPACE: 'false' }, {
      createFirewall: async () => { throw new Error('no netfilter here'); },
      preload: async () => { throw new Error('preload failed'); },
    });
    const st = newBootState();
    const p = prepareParts(d, st);
    await flush();
    await expect(startParts(d, st, p)).rejects.toThrow('error creating new netfilter runner: no netfilter here');
  });

  it('creates no firewall when the configuration is not an L3 proxy, but still preloads', async () => {
    let preloaded = 0;
    let created = 0;
    const d = deps({}, { createFirewall: async () => { created++; return fakeFirewall(); }, preload: async () => { preloaded++; } });
    const p = prepareParts(d, newBootState());
    expect(p.firewall).toBeUndefined();
    expect(created).toBe(0);
    expect(preloaded).toBe(1);
  });
});

describe('warm-up samples', () => {
  it('run the whole path', () => {
    expect(warmRunLoop()).toBe(true);
    expect(warmFirewallPaths()).toBeGreaterThan(0);
  });

  it('HA egress: each round applies "all added", "one target moved" and "all removed", and logs nothing', async () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    try {
      expect(await warmEgressPaths(2)).toBe(6);
    } finally {
      setLogSink(() => undefined);
    }
    expect(lines).toEqual([]);
  });

  it('HA egress: warms only when the mounted config already holds many services', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-warm-'));
    try {
      expect(await configuredServices(dir)).toBe(0); // no file
      const write = (n: number) => fs.writeFileSync(path.join(dir, 'egress-services'),
        JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, { tailnetTarget: { ip: '100.64.0.9' }, ports: [] }]))));
      write(WARM_FROM_SERVICES - 1);
      expect(await configuredServices(dir)).toBe(WARM_FROM_SERVICES - 1);
      expect(await warmEgressIfLarge(dir)).toBe(0);
      write(WARM_FROM_SERVICES);
      expect(await warmEgressIfLarge(dir)).toBeGreaterThan(0);
      fs.writeFileSync(path.join(dir, 'egress-services'), '{"broken');
      expect(await configuredServices(dir)).toBe(0); // the runner reports it later, not the warm-up
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
