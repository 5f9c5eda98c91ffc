#!/bin/bash
# Builds the real Go programs the tests and the demo need, pinned, with `go install` from the Go
# module proxy, into a cache outside the repository. Idempotent: a binary whose embedded module
# version already matches the pin is reused.
set -euo pipefail

TAILSCALE_VERSION=v1.102.3
HEADSCALE_VERSION=v0.29.2
CACHE="${CONTAINERBOOT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-tools}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

if ! command -v go >/dev/null 2>&1; then
  echo "install-go-tools: 'go' (Go >= 1.26) is not on PATH; it is needed to build tailscaled, tailscale and headscale" >&2
  exit 1
fi

# has_version BINARY MODULE VERSION: the binary exists and was built from MODULE at VERSION.
has_version() {
  [ -x "$1" ] && go version -m "$1" 2>/dev/null | awk -v m="$2" -v v="$3" '$1=="mod" && $2==m && $3==v {found=1} END {exit !found}'
}

build() { # build NAME PACKAGE MODULE VERSION
  local name=$1 pkg=$2 mod=$3 ver=$4
  if has_version "$BIN/$name" "$mod" "$ver"; then
    echo "install-go-tools: $name $ver cached in $BIN"
    return
  fi
  echo "install-go-tools: building $pkg@$ver (this takes a few minutes the first time)"
  GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "$pkg@$ver"
  has_version "$BIN/$name" "$mod" "$ver" || { echo "install-go-tools: $name built but its version is not $ver" >&2; exit 1; }
}

build tailscaled tailscale.com/cmd/tailscaled tailscale.com "$TAILSCALE_VERSION"
build tailscale tailscale.com/cmd/tailscale tailscale.com "$TAILSCALE_VERSION"
build headscale github.com/juanfont/headscale/cmd/headscale github.com/juanfont/headscale "$HEADSCALE_VERSION"
echo "install-go-tools: ready in $BIN"
