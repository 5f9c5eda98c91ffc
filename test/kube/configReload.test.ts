// Config reload watch with real chokidar on a directory updated like kubelet does.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runConfigReloadWatch } from '../../src/kube/configReload.js';
import type { LocalAPIResponse } from '../../src/localapi/client.js';
import { writeAtomically } from './atomicWriter.js';
import { captureLogs, rejection } from './helpers.js';

function fakeLocalAPI(answer: () => string | Error) {
  const calls: string[] = [];
  return {
    calls,
    call: async (method: string, p: string): Promise<LocalAPIResponse> => {
      calls.push(`${method} ${p}`);
      const a = answer();
      if (a instanceof Error) throw a;
      return { status: 200, statusText: 'OK', headers: {}, body: a };
    },
  };
}

const until = async (cond: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const cfg = (key: string): string => `{"Version":"alpha0","AuthKey":"${key}"}`;
let ac: AbortController | undefined;
afterEach(() => ac?.abort());

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cfgdir-'));
  writeAtomically(dir, { 'cap-95.hujson': cfg('k1') });
  return { dir, file: path.join(dir, 'cap-95.hujson') };
}

describe('runConfigReloadWatch', () => {
  it('posts reload-config when ..data is swapped to different bytes, not for same bytes or other files', async () => {
    const logs = captureLogs();
    const { dir, file } = setup();
    const api = fakeLocalAPI(() => '{"Reloaded":true,"Err":""}');
    ac = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const done = runConfigReloadWatch({ configFilePath: file, localAPI: api, signal: ac.signal, onReady: () => ready() });
    await isReady;
    writeAtomically(dir, { 'cap-95.hujson': cfg('k1') }); // same bytes
    await new Promise((r) => setTimeout(r, 300));
    // Changes that are not a ..data swap do not count, even when the file's bytes change.
    writeFileSync(path.join(dir, 'unrelated'), 'x');
    writeFileSync(file, cfg('written-in-place'));
    await new Promise((r) => setTimeout(r, 300));
    expect(api.calls).toEqual([]);
    writeAtomically(dir, { 'cap-95.hujson': cfg('k2') });
    await until(() => api.calls.length === 1);
    await until(() => logs.includes('tailscaled config watch: config was reloaded'));
    writeAtomically(dir, { 'cap-95.hujson': cfg('k2') }); // same as the reloaded bytes: no second reload
    await new Promise((r) => setTimeout(r, 300));
    expect(api.calls).toEqual(['POST /localapi/v0/reload-config']);
    expect(logs).toContain('tailscaled config watch: ensuring that config is up to date');
    ac.abort();
    await done;
  });

  it('fails when tailscaled reports a reload error', async () => {
    const { dir, file } = setup();
    ac = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const done = runConfigReloadWatch({ configFilePath: file, localAPI: fakeLocalAPI(() => '{"Reloaded":false,"Err":"bad config"}'), signal: ac.signal, onReady: () => ready() });
    await isReady;
    writeAtomically(dir, { 'cap-95.hujson': cfg('k3') });
    expect((await rejection(done)).message).toBe('error reloading tailscaled config: bad config');
  });

  it('fails on the empty-body answer of a failed reload, with Go\'s decode error', async () => {
    const { dir, file } = setup();
    ac = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const done = runConfigReloadWatch({ configFilePath: file, localAPI: fakeLocalAPI(() => ''), signal: ac.signal, onReady: () => ready() });
    await isReady;
    writeAtomically(dir, { 'cap-95.hujson': cfg('k4') });
    expect((await rejection(done)).message).toBe('error reloading tailscaled config: unexpected end of JSON input');
  });

  it('fails at start when the directory or the file is missing', async () => {
    ac = new AbortController();
    const api = fakeLocalAPI(() => '{}');
    expect((await rejection(runConfigReloadWatch({ configFilePath: '/nonexistent-dir/cap-1.hujson', localAPI: api, signal: ac.signal }))).message)
      .toMatch(/^failed to add fsnotify watch: ENOENT/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfgdir-'));
    expect((await rejection(runConfigReloadWatch({ configFilePath: path.join(dir, 'cap-1.hujson'), localAPI: api, signal: ac.signal }))).message)
      .toMatch(/^error reading configfile: ENOENT/);
  });

  it('falls back to a timer when no watcher can be created', async () => {
    const logs = captureLogs();
    const { file } = setup();
    const api = fakeLocalAPI(() => '{"Reloaded":true}');
    ac = new AbortController();
    const broken = (() => { throw new Error('inotify limit reached'); }) as never;
    const done = runConfigReloadWatch({ configFilePath: file, localAPI: api, signal: ac.signal, tickMs: 50, watch: broken });
    await until(() => logs.some((l) => l.startsWith('tailscaled config watch: failed to create fsnotify watcher, timer-only mode: inotify limit reached')));
    writeFileSync(file, cfg('k5'));
    await until(() => api.calls.length === 1);
    ac.abort();
    await done;
  });
});
