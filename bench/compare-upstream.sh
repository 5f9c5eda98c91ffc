#!/bin/bash
# Side by side with upstream's containerboot v1.102.3 (bench/compareUpstream.ts). Needs root, the
# pinned Go tools and Go (upstream's build is cached next to them; a second run reuses it):
#   bash bench/run.sh compare-upstream [--tiny] [options of bench/compareUpstream.ts]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-go-tools.sh --upstream-containerboot >&2
node_modules/.bin/node scripts/build.mjs
exec bash test/lab/run.sh bench/compareUpstream.ts "$@"
