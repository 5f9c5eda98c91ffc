// Every configuration error at once, for `containerboot doctor` (boot itself stops at the first).
// Minimal version: wraps settingsFromEnv, so it returns at most the first error. The full
// all-errors version is written on another branch and replaces this file at merge.
import { settingsFromEnv, SettingsError } from './fromEnv.js';

/** The configuration errors of `env` (the boot's texts, `invalid configuration: ` prefix kept); [] when valid. */
export function settingsErrors(env: NodeJS.ProcessEnv): string[] {
  try {
    settingsFromEnv(env);
    return [];
  } catch (err) {
    if (err instanceof SettingsError) return [err.message];
    throw err;
  }
}
