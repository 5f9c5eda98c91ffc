import { describe, expect, it } from 'vitest';
import { dropLauncherTunables } from '../../src/proc/tunables.js';

describe('dropLauncherTunables', () => {
  it("removes the launcher's tunable and its mark", () => {
    const env: NodeJS.ProcessEnv = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0', CONTAINERBOOT_OWN_TUNABLES: '1', TS_AUTHKEY: 'k' };
    dropLauncherTunables(env);
    expect(env).toEqual({ TS_AUTHKEY: 'k' });
  });

  it("keeps a caller's tunables when the launcher did not set them", () => {
    const env: NodeJS.ProcessEnv = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' };
    dropLauncherTunables(env);
    expect(env).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
  });

  it('drops a mark with another value without touching the tunables', () => {
    const env: NodeJS.ProcessEnv = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2', CONTAINERBOOT_OWN_TUNABLES: '0' };
    dropLauncherTunables(env);
    expect(env).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
  });
});
