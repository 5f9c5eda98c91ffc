// Every configuration error at once, for `containerboot doctor` (issue 13): the same checks boot
// runs (upstream's rules, then this project's additions), where boot stops at the first.
import { buildSettings, ErrorCollector } from './fromEnv.js';

/**
 * All configuration errors of `env`, in the order boot evaluates them; [] when boot would accept it.
 * Each entry is exactly the line boot logs (after `boot: <timestamp> `) before exiting 1, so it
 * INCLUDES the `invalid configuration: ` prefix wherever boot prints it — boot prints one error
 * without it (the versioned-config-dir selection errors, as upstream), so the prefix cannot be
 * stripped or added uniformly. Secrets never appear: messages name variables and paths only.
 * Reads the files the configuration names (secret files, the config directory), writes nothing.
 */
export function settingsErrors(env: NodeJS.ProcessEnv): string[] {
  const errs = new ErrorCollector(true);
  buildSettings(env, errs);
  return errs.errors;
}
