// Entry point: run the boot sequence and exit with its code.
import { run, type Components } from './orchestrator.js';

const components: Components = {};

run(process.env, components).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`boot: unexpected error: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
