#!/bin/bash
# One-time (idempotent) machine and project set-up shared by the test and demo commands:
# Debian packages, npm dependencies (which bring Node 24), the bundle, and the pinned Go binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(nftables iptables iproute2 curl libnftables1 util-linux procps mount openssl)
# The real Kubernetes node of test/k8s (scripts/k8s/): container runtime, CNI, the pause image's busybox.
APT_PACKAGES+=(containerd runc containernetworking-plugins busybox-static podman)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: root is needed to install ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.containerboot-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

node_modules/.bin/node --version | grep -q '^v24\.' || { echo "setup: node_modules/.bin/node is not Node 24" >&2; exit 1; }

bash scripts/install-go-tools.sh
# The real single-node Kubernetes for test/k8s (etcd + Kubernetes built once into the tools cache).
bash scripts/k8s/install.sh
bash scripts/install-image-tools.sh  # podman, runc, mmdebstrap for the image and its tests (issue 9)
npm run --silent build
echo "setup: done"
