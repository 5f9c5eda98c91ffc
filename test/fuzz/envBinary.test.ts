// Fuzzed environments against the real bundled binary: for every environment the settings layer
// rejects, bin/containerboot exits 1 with one message naming a set variable, prints no stack
// trace and no secret, spawns nothing (the fake tailscaled on PATH records any start) and writes
// nothing (the scenario directory is unchanged).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { settingsFromEnv } from '../../src/settings/fromEnv.js';
import { Scenario } from '../support/harness.js';
import { SECRET_VARS, envMode, envSubset, fuzzParams, namedVars, secretValue, fuzzTimeout } from './arbitraries.js';

function tree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath, e.name);
    out.push(`${path.relative(dir, p)} ${e.isFile() ? statSync(p).size : e.isDirectory() ? 'd' : 'l'}`);
  }
  return out.sort();
}

function rejected(env: Record<string, string>): boolean {
  try { settingsFromEnv(env); return false; } catch { return true; }
}

// The binary sees `env` on top of the harness's (fake PATH, test root, socket in the scenario dir).
const invalidEnv = fc.tuple(
  envMode,
  envSubset,
  fc.dictionary(fc.constantFrom(...SECRET_VARS), secretValue, { maxKeys: 2 }),
).map(([m, sub, sec]) => {
  const env: Record<string, string> = { ...m, ...sub, ...sec };
  // Keep the harness's own locations; the fuzzed ones are exercised by the pure test.
  delete env.TS_SOCKET;
  return { env, secrets: Object.values(sec) };
}).filter(({ env }) => rejected(env));

describe('fuzz: environment → bin/containerboot', () => {
  it('invalid environments: exit 1, a message naming the variable, nothing spawned or written, no secret', async () => {
    await fc.assert(fc.asyncProperty(invalidEnv, async ({ env, secrets }) => {
      const scn = new Scenario({ env, deferLocalAPI: true });
      try {
        const before = tree(scn.dir);
        await scn.start();
        const exit = await scn.waitExit(15_000);
        const out = scn.lines.join('\n');
        expect(exit.code, out.slice(0, 500)).toBe(1);
        const msgs = scn.messages();
        expect(msgs.length, out.slice(0, 500)).toBeGreaterThan(0);
        expect(namedVars(msgs[msgs.length - 1], env).length, `last line names no set variable: ${msgs[msgs.length - 1].slice(0, 300)}`).toBeGreaterThan(0);
        expect(out).not.toMatch(/\n\s+at |unexpected error|Error: /);
        for (const v of secrets) expect(out).not.toContain(v);
        expect(scn.invocations(), 'nothing spawned').toEqual([]);
        expect(tree(scn.dir), 'nothing written').toEqual(before);
      } finally {
        await scn.cleanup();
      }
    }), fuzzParams(30));
  }, fuzzTimeout(120_000));
});
