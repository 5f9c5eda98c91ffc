#!/bin/bash
# Runs a benchmark: bash bench/run.sh <name> — bundles bench/<name>*.ts with esbuild and runs it on
# the project's Node 24. Results go to stdout (JSON); docs/PERFORMANCE.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: bench/run.sh core|<name>}
src=$(ls bench/${name}*.ts | head -1)
mkdir -p .lab
out=.lab/bench-${name}.mjs
node_modules/.bin/esbuild "$src" --bundle --platform=node --format=esm --target=node24 --outfile="$out" \
  --external:koffi --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
REPO=$PWD exec node_modules/.bin/node "$out" "${@:2}"
