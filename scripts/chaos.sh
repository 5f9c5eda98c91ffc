#!/bin/bash
# The full chaos run: every chaos family with CHAOS_SEEDS seeds (default 20) and the 30 s control
# outage; CI runs the same files with a few seeds (test/chaos/). Replay one seed with
#   CHAOS_SEED=<n> bash scripts/chaos.sh
# It starts namespaces and processes, so it takes the shared heavy lock.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
CHAOS_SEEDS=${CHAOS_SEEDS:-20} CHAOS_OUTAGE_S=${CHAOS_OUTAGE_S:-30} exec flock /tmp/cb-heavy.lock npx --no-install vitest run test/chaos "$@"
