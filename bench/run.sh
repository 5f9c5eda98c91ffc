#!/bin/bash
# Runs one benchmark on the project's Node 24: bash bench/run.sh <name> [args…]
#   core      → bench/core-boot.ts (bundled with esbuild first)
#   firewall, kube, services, newconn, lab, compare-upstream → their own launchers (bench/<name>.mjs or bench/<name>.sh)
# Results go to stdout; docs/PERFORMANCE.md records them with the exact command.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: bash bench/run.sh core|firewall|kube|services|newconn|lab|compare-upstream [args]}
shift
case $name in
  core)
    mkdir -p .lab
    node_modules/.bin/esbuild bench/core-boot.ts --bundle --platform=node --format=esm --target=node24 \
      --outfile=.lab/bench-core.mjs --external:koffi --log-level=warning \
      --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
    REPO=$PWD exec node_modules/.bin/node .lab/bench-core.mjs "$@" ;;
  *)
    if [ -f "bench/$name.mjs" ]; then exec node_modules/.bin/node "bench/$name.mjs" "$@"; fi
    if [ -f "bench/$name.sh" ]; then exec bash "bench/$name.sh" "$@"; fi
    echo "bench/run.sh: unknown benchmark '$name'" >&2; exit 2 ;;
esac
