#!/bin/bash
# The long fuzz run: the same properties as CI's bounded run (test/fuzz/), SCALE times as many
# cases, from a fresh seed that is printed so any failure can be replayed exactly.
#   bash scripts/fuzz.sh [--scale N] [--seed S]      (default: scale 20, random seed)
# It starts processes (bin/containerboot, fake tailscaled), so it takes the shared heavy lock.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=20
seed=$(( (RANDOM << 15) | RANDOM ))
while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: bash scripts/fuzz.sh [--scale N] [--seed S]" >&2; exit 2 ;;
  esac
done
echo "fuzz: seed=$seed scale=$scale (replay: bash scripts/fuzz.sh --seed $seed --scale $scale)"
npm run --silent build
FUZZ_SEED=$seed FUZZ_RUNS_SCALE=$scale exec flock /tmp/cb-heavy.lock npx --no-install vitest run test/fuzz
