#!/bin/bash
# The whole test suite: set-up, type check, then every vitest test (unit, scenario, kernel and
# real-stack). npm scripts put node_modules/.bin first on PATH, so vitest runs on Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent typecheck
mkdir -p .lab
# The container image the test/image/ tests run (cached: seconds when nothing it is built from changed).
bash scripts/image.sh >/dev/null
bash scripts/image.sh upstream >/dev/null
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile=.lab/vitest-results.json "$@" || status=$?
node_modules/.bin/node scripts/summary.mjs .lab/vitest-results.json || status=1
exit $status
