#!/bin/bash
# Soak under churn on the real lab (see test/soak/soakRun.ts). Needs root and the pinned Go tools.
#   bash bench/run.sh soak [--minutes N]    (default 20 minutes)
# Starts namespaces and processes, so it takes the shared heavy lock for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/cb-heavy.lock bash test/lab/run.sh bench/soak.ts "$@"
