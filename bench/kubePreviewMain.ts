// Benchmark-only entry: src/main.ts's program with the kube components wired in, for measuring
// kube-mode boot before main.ts wires them itself. bench/kube.mjs bundles it exactly like
// scripts/build.mjs bundles src/main.ts.
import { kubeComponents } from '../src/kube/components.js';
import { run } from '../src/orchestrator.js';

run(process.env, { ...kubeComponents }).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`boot: unexpected error: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
