#!/bin/bash
# Real-stack boot benchmark (see bench/lab-boot.ts). Needs root and the pinned Go tools:
#   bash bench/lab.sh [--runs N] [--mode userspace|ingress|both]
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash test/lab/run.sh bench/lab-boot.ts "$@"
