#!/bin/bash
# npm run demo: builds what is missing (scripts/setup.sh: Debian packages, npm deps, bundle, pinned
# tailscaled/tailscale/headscale), then runs scripts/demo.ts with Node 24 as root.
#   bash scripts/demo.sh           keep the lab running until Ctrl-C
#   bash scripts/demo.sh --once    run once, clean up, exit
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "demo: needs root (network namespaces, TUN, netfilter); try: sudo npm run demo" >&2
  exit 1
fi
bash scripts/setup.sh
exec bash test/lab/run.sh scripts/demo.ts "$@"
