#!/bin/bash
# The whole test suite: set-up, type check, then every vitest test (unit, scenario, kernel and
# real-stack). npm scripts put node_modules/.bin first on PATH, so vitest runs on Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent typecheck
mkdir -p .lab
# The container image the test/image/ tests run, and the stand-in for upstream's (cached: under a
# second when nothing they are built from changed; docs/IMAGE.md has the cold and warm times).
# A failed build does not stop the suite: test/image/ then fails with the build's error.
bash scripts/image.sh >/dev/null || echo "test.sh: bash scripts/image.sh failed; test/image/ will report why" >&2
bash scripts/image.sh upstream >/dev/null || echo "test.sh: bash scripts/image.sh upstream failed; test/image/switch.test.ts will report why" >&2
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile=.lab/vitest-results.json "$@" || status=$?
node_modules/.bin/node scripts/summary.mjs .lab/vitest-results.json || status=1
exit $status
