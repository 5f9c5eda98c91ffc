#!/bin/bash
# Builds the real Go programs the tests and the demo need, pinned, with `go install` from the Go
# module proxy, into a cache outside the repository. Idempotent: a binary whose embedded module
# version already matches the pin is reused, so a second run takes well under a second.
#
#   --upstream-containerboot   build only upstream's containerboot (see the end of this file)
#   CONTAINERBOOT_TOOLS   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-tools);
#                         binaries land in $CONTAINERBOOT_TOOLS/bin. Nothing is written into the repo.
#
# `go install pkg@version` asks the proxy for the module's version list to look for deprecation
# notices; some proxies/mirrors answer that list request with 403 (seen for headscale). In that case
# the same pinned version is built from a tiny wrapper module (go.mod requiring exactly that version,
# no replace), which gives the same MVS result because the wrapper has no other requirement.
set -euo pipefail

TAILSCALE_VERSION=v1.102.3
HEADSCALE_VERSION=v0.29.2
CACHE="${CONTAINERBOOT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-tools}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

if ! command -v go >/dev/null 2>&1; then
  for g in /usr/local/go/bin/go "$HOME/go/bin/go" "$HOME/sdk/go/bin/go"; do
    if [ -x "$g" ]; then PATH="$(dirname "$g"):$PATH"; break; fi
  done
fi
need_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "install-go-tools: 'go' (Go >= 1.26) is not on PATH; it is needed to build tailscaled, tailscale and headscale" >&2
    exit 1
  fi
}

# has_version BINARY MODULE VERSION: the binary exists and was built from MODULE at VERSION
# (read from its embedded build info; without a Go toolchain, from the program's version output).
has_version() {
  [ -x "$1" ] || return 1
  if command -v go >/dev/null 2>&1; then
    go version -m "$1" 2>/dev/null | awk -v m="$2" -v v="$3" '$1=="mod" && $2==m && $3==v {found=1} END {exit !found}'
  else
    { "$1" --version 2>/dev/null || "$1" version 2>/dev/null; } | grep -q -- "${3#v}"
  fi
}

# build_wrapped NAME PACKAGE MODULE VERSION: build PACKAGE from a wrapper module pinned to MODULE@VERSION.
build_wrapped() {
  local name=$1 pkg=$2 mod=$3 ver=$4
  local dir="$CACHE/src/$name-$ver"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
module containerboot.lab/tools/$name

go 1.26

require $mod $ver
EOF
  cat >"$dir/tools.go" <<EOF
//go:build tools

package tools

import _ "$pkg"
EOF
  rm -f "$dir/go.sum"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy && GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "$pkg")
}

build() { # build NAME PACKAGE MODULE VERSION
  local name=$1 pkg=$2 mod=$3 ver=$4
  if has_version "$BIN/$name" "$mod" "$ver"; then
    echo "install-go-tools: $name $ver cached in $BIN"
    return
  fi
  need_go
  echo "install-go-tools: building $pkg@$ver (this takes a few minutes the first time)"
  if ! GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "$pkg@$ver"; then
    echo "install-go-tools: 'go install $pkg@$ver' failed; building the same pin from a wrapper module"
    build_wrapped "$name" "$pkg" "$mod" "$ver"
  fi
  has_version "$BIN/$name" "$mod" "$ver" || { echo "install-go-tools: $name built but its version is not $ver" >&2; exit 1; }
}

# `--upstream-containerboot`: only upstream's Go containerboot at the same pin, for
# `bash bench/run.sh compare-upstream` (a black box to measure against; not on the lab's PATH,
# so it lands in its own directory: $CACHE/upstream/bin/containerboot).
if [ "${1:-}" = --upstream-containerboot ]; then
  BIN="$CACHE/upstream/bin"
  mkdir -p "$BIN"
  build containerboot tailscale.com/cmd/containerboot tailscale.com "$TAILSCALE_VERSION"
  echo "install-go-tools: upstream containerboot ready in $BIN"
  exit 0
fi

build tailscaled tailscale.com/cmd/tailscaled tailscale.com "$TAILSCALE_VERSION"
build tailscale tailscale.com/cmd/tailscale tailscale.com "$TAILSCALE_VERSION"
build headscale github.com/juanfont/headscale/cmd/headscale github.com/juanfont/headscale "$HEADSCALE_VERSION"
echo "install-go-tools: ready in $BIN"
