#!/bin/bash
# Builds what the real single-node Kubernetes lab needs (docs/LAB.md, "Real cluster"), idempotently:
# etcd v3.6.5 plus kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet and kubectl v1.34.2 built from the Go module proxy
# into a cache outside the repository ($CONTAINERBOOT_TOOLS/k8s/bin). A binary that already reports
# its pinned version is reused, so a warm run takes about a second. Run it under
# `flock /tmp/cb-heavy.lock` when it may build (a cold build takes many minutes on 2 cores).
#
# Neither module can be `go install`ed (their go.mod files replace sibling modules with local
# paths), so each is built from a scratch wrapper module whose replace block points those
# siblings at their published versions; the block is generated from the pinned module's go.mod.
set -euo pipefail

K8S_VERSION=v1.34.2
K8S_STAGING_VERSION=v0.34.2
ETCD_VERSION=v3.6.5
TAILSCALE_VERSION=v1.102.3
CACHE="${CONTAINERBOOT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-tools}/k8s"
BIN="$CACHE/bin"
mkdir -p "$BIN"

# Debian packages (containerd runc containernetworking-plugins busybox-static podman) are
# installed by scripts/setup.sh, which calls this script; checked here so a direct run says so.
for c in containerd ctr runc podman busybox; do
  command -v "$c" >/dev/null 2>&1 || { echo "k8s-install: '$c' is missing (run: bash scripts/setup.sh)" >&2; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || { echo "k8s-install: /usr/lib/cni/bridge is missing (run: bash scripts/setup.sh)" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1; then
  for g in /usr/local/go/bin/go "$HOME/go/bin/go" "$HOME/sdk/go/bin/go"; do
    if [ -x "$g" ]; then PATH="$(dirname "$g"):$PATH"; break; fi
  done
fi
need_go() {
  command -v go >/dev/null 2>&1 && return
  echo "k8s-install: 'go' (Go >= 1.24) is not on PATH; it is needed to build etcd $ETCD_VERSION and Kubernetes $K8S_VERSION" >&2
  exit 1
}

# gomod_of MODULE@VERSION: the path of that module's go.mod in the module cache (downloads it).
gomod_of() { go mod download -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p'; }

# wrapper DIR MODULE VERSION SIBLING_VERSION PREFIX: a scratch module requiring MODULE@VERSION whose
# replace block maps every local-path replace of MODULE's go.mod that starts with PREFIX to
# PREFIX...@SIBLING_VERSION, plus a tools.go importing the packages that follow.
wrapper() {
  local dir=$1 mod=$2 ver=$3 sib=$4 prefix=$5; shift 5
  local gomod
  gomod=$(gomod_of "$mod@$ver")
  [ -f "$gomod" ] || { echo "k8s-install: could not download $mod@$ver's go.mod" >&2; exit 1; }
  mkdir -p "$dir"
  {
    echo "module containerboot.lab/tools/$(basename "$dir")"
    echo
    echo "go 1.24.0"
    echo
    grep -E '^godebug ' "$gomod" || true
    echo "require $mod $ver"
    echo
    echo "replace ("
    awk -v p="$prefix" -v s="$sib" '$2=="=>" && index($1,p)==1 && $3 ~ /^\.\.?\// {print "\t" $1 " => " $1 " " s}' "$gomod"
    echo ")"
  } >"$dir/go.mod"
  { echo "//go:build tools"; echo; echo "package tools"; echo; for p in "$@"; do echo "import _ \"$p\""; done; } >"$dir/tools.go"
  rm -f "$dir/go.sum"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
}

reports() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q -- "$2"; }

if reports "$BIN/etcd" "etcd Version: ${ETCD_VERSION#v}"; then
  echo "k8s-install: etcd $ETCD_VERSION cached in $BIN"
else
  need_go
  echo "k8s-install: building etcd $ETCD_VERSION (a few minutes the first time)"
  src="$CACHE/src/etcd-$ETCD_VERSION"
  wrapper "$src" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION" go.etcd.io/etcd/ go.etcd.io/etcd/server/v3
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  reports "$BIN/etcd" "etcd Version: ${ETCD_VERSION#v}" || { echo "k8s-install: etcd built but it does not report $ETCD_VERSION" >&2; exit 1; }
fi

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
want=()
for c in "${K8S_CMDS[@]}"; do
  if [ "$c" = kubectl ]; then
    "$BIN/kubectl" version --client 2>/dev/null | grep -q "Client Version: $K8S_VERSION" || want+=("$c")
  else
    reports "$BIN/$c" "Kubernetes $K8S_VERSION" || want+=("$c")
  fi
done
if [ ${#want[@]} -eq 0 ]; then
  echo "k8s-install: Kubernetes $K8S_VERSION cached in $BIN"
else
  need_go
  echo "k8s-install: building ${want[*]} $K8S_VERSION (many minutes the first time)"
  src="$CACHE/src/kubernetes-$K8S_VERSION"
  pkgs=()
  for c in "${want[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  wrapper "$src" k8s.io/kubernetes "$K8S_VERSION" "$K8S_STAGING_VERSION" k8s.io/ "${pkgs[@]}"
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w$ld" -o "$BIN/" "${pkgs[@]}")
  for c in "${want[@]}"; do [ -x "$BIN/$c" ] || { echo "k8s-install: $c was not built" >&2; exit 1; }; done
fi
# Upstream's manifests (facts to test against): docs/k8s/*.yaml and the operator's deploy manifests
# of the pinned tailscale.com module, copied out of the module cache for the tests.
UP="$CACHE/upstream-tailscale-$TAILSCALE_VERSION"
if [ ! -f "$UP/docs/k8s/role.yaml" ]; then
  need_go
  dir=$(go mod download -json "tailscale.com@$TAILSCALE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -f "$dir/docs/k8s/role.yaml" ] || { echo "k8s-install: tailscale.com@$TAILSCALE_VERSION has no docs/k8s/role.yaml" >&2; exit 1; }
  mkdir -p "$UP/docs" "$UP/deploy"
  cp -r "$dir/docs/k8s" "$UP/docs/"
  cp -r "$dir/cmd/k8s-operator/deploy/manifests" "$UP/deploy/" 2>/dev/null || true
  chmod -R u+w "$UP"
fi
echo "k8s-install: ready in $BIN"
