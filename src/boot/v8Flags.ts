// V8's top JIT tier capped once start-up has loaded its built-ins. TurboFan's code pages and
// compile zones cost ~5 MiB RSS once a function gets hot, for no measured gain on our short bursts
// (docs/DECISIONS.md, HA egress memory). On the command line the cap (`--max-opt=2`) changes V8's
// flag hash, and Node then compiles all 65 of its non-snapshot built-ins from source instead of
// its embedded code cache; set here, after they are loaded, it costs nothing. `--max-opt` is read
// only when the isolate is created; `--no-turbofan` is honoured at run time (Maglev stays the top
// tier; checked with %GetOptimizationStatus).
let capped = false;

export function capJitTier(): void {
  if (capped) return;
  capped = true;
  try {
    process.getBuiltinModule('node:v8').setFlagsFromString('--no-turbofan');
  } catch {
    // A runtime that refuses the flag keeps TurboFan: slower to settle in memory, not wrong.
  }
}
