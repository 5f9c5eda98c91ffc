#!/bin/bash
# Idempotent install of what building and running the container image needs here: podman with runc
# (crun fails on this host's cgroups hybrid mode), mmdebstrap for local stand-in base images, and a
# containers.conf that makes podman work on it. Does nothing when all of it is already in place.
set -euo pipefail

PACKAGES=(podman runc mmdebstrap uidmap fuse-overlayfs slirp4netns)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "install-image-tools: root is needed to install ${missing[*]}" >&2; exit 1; fi
  echo "install-image-tools: installing Debian packages: ${missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# default_ulimits = []: podman 4.3's default nofile ulimit is refused by this host's runc;
# runtime = "runc": crun fails here (cgroups hybrid mode).
conf=/etc/containers/containers.conf
want='# containerboot: podman settings for this host (scripts/install-image-tools.sh)
[containers]
default_ulimits = []

[engine]
runtime = "runc"'
if [ ! -f "$conf" ] || ! grep -q '^# containerboot: podman settings' "$conf"; then
  if [ -f "$conf" ] && [ -s "$conf" ]; then
    echo "install-image-tools: $conf exists without the containerboot settings; add to it:" >&2
    echo "$want" >&2
    exit 1
  fi
  mkdir -p /etc/containers
  printf '%s\n' "$want" >"$conf"
fi
