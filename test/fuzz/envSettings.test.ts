// Fuzzed environments against the pure settings layer: every TS_* variable with malformed, empty,
// huge and unicode values, alone and in combination. Either settings come back, or a SettingsError
// whose one message names a variable that was set; never another exception, never a secret.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { settingsFromEnv, SettingsError } from '../../src/settings/fromEnv.js';
import { ENV_VARS, SECRET_VARS, envMode, envSubset, envValue, fuzzParams, fuzzTimeout, namedVars, secretValue } from './arbitraries.js';

type Outcome = { ok: true; logs: string[] } | { ok: false; message: string; logs: string[] };

function evaluate(env: Record<string, string>): Outcome {
  try {
    return { ok: true, logs: settingsFromEnv(env).logs };
  } catch (e) {
    if (!(e instanceof SettingsError)) throw new Error(`not a SettingsError for ${JSON.stringify(env).slice(0, 400)}: ${(e as Error)?.stack}`);
    return { ok: false, message: e.message, logs: (e as SettingsError & { logs?: string[] }).logs ?? [] };
  }
}

function checkInvalid(env: Record<string, string>, out: Outcome): void {
  if (out.ok) return;
  const named = namedVars(out.message, env);
  expect(named.length, `message names none of the set variables: ${out.message.slice(0, 300)}`).toBeGreaterThan(0);
  expect(out.message).not.toMatch(/\n\s+at /);
}

describe('fuzz: environment → settings', () => {
  it('each variable alone: settings or a SettingsError naming it', () => {
    fc.assert(fc.property(fc.constantFrom(...ENV_VARS), envValue, (k, v) => {
      const env = { [k]: v };
      checkInvalid(env, evaluate(env));
    }), fuzzParams(1500));
  }, fuzzTimeout(30_000));

  it('combinations (kernel mode and Kubernetes too): settings or a SettingsError naming a set variable', () => {
    fc.assert(fc.property(envMode, envSubset, (m, sub) => {
      const env = { ...m, ...sub };
      checkInvalid(env, evaluate(env));
    }), fuzzParams(1500));
  }, fuzzTimeout(30_000));

  it('secret values never appear in an error or a log line', () => {
    const secrets = fc.dictionary(fc.constantFrom(...SECRET_VARS), secretValue, { minKeys: 1, maxKeys: 4 });
    fc.assert(fc.property(secrets, envSubset, (sec, sub) => {
      const env = { ...sub, ...sec };
      const out = evaluate(env);
      const text = [...out.logs, out.ok ? '' : out.message].join('\n');
      for (const v of Object.values(sec)) expect(text).not.toContain(v);
    }), fuzzParams(800));
  }, fuzzTimeout(30_000));
});
