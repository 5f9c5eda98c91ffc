#!/bin/bash
# Builds the container image with podman and prints its reference as the last line of stdout
# (everything else goes to stderr), so `podman run "$(bash scripts/image.sh | tail -1)"` works.
#   bash scripts/image.sh            the containerboot image (Dockerfile)
#   bash scripts/image.sh upstream   the tests' stand-in for tailscale/tailscale:v1.102.3
#                                    (test/image/upstream.Dockerfile, localhost/tailscale-upstream:v1.102.3)
# Idempotent and cached: the image carries a label with a hash of everything it is built from
# (Dockerfile, package*.json, tsconfig.json, the build scripts, bin/containerboot, src/, the base images' IDs); when
# the existing image's label matches, nothing is built. Otherwise podman's layer cache and the host's
# Go module/build caches and npm cache (mounted into the build) keep a rebuild short.
#
#   CONTAINERBOOT_IMAGE      image reference (default localhost/containerboot:dev)
#   CONTAINERBOOT_PLATFORM   e.g. linux/arm64 (default: this machine's)
#   CONTAINERBOOT_BASES      standin (default): build local stand-ins for missing base images
#                            (scripts/image-bases.sh); pull: let podman pull the public ones
# Heavy: run it under `flock /tmp/cb-heavy.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-containerboot}" in
  containerboot) DOCKERFILE=Dockerfile; IMAGE="${CONTAINERBOOT_IMAGE:-localhost/containerboot:dev}"
    CONTEXT_FILES=(.dockerignore package.json package-lock.json tsconfig.json scripts/build.mjs scripts/image-payload.mjs scripts/image-rootfs.sh scripts/install-go-tools.sh bin/containerboot src) ;;
  upstream) DOCKERFILE=test/image/upstream.Dockerfile; IMAGE="${CONTAINERBOOT_UPSTREAM_IMAGE:-localhost/tailscale-upstream:v1.102.3}"
    CONTEXT_FILES=() ;;
  *) echo "usage: bash scripts/image.sh [containerboot|upstream]" >&2; exit 2 ;;
esac
PLATFORM="${CONTAINERBOOT_PLATFORM:-}"
CACHE="${CONTAINERBOOT_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-image}"
mkdir -p "$CACHE"

bash scripts/install-image-tools.sh
# One image build at a time per machine (a second caller waits, then finds the image current).
exec 9>"$CACHE/.image.lock"
flock 9

if [ "${CONTAINERBOOT_BASES:-standin}" = standin ]; then bash scripts/image-bases.sh; fi

bases=$(sed -n 's/^ARG \(GO\|NODE\|BASE\)_IMAGE=//p' "$DOCKERFILE")
base_ids=$(for b in $bases; do podman image inspect --format '{{.Id}}' "$b" 2>/dev/null || echo "$b:absent"; done)
inputs=$(
  {
    printf '%s\n' "$PLATFORM" "$base_ids"
    find "$DOCKERFILE" "${CONTEXT_FILES[@]}" -type f | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-32
)
current=$(podman image inspect --format '{{index .Labels "containerboot.inputs"}}' "$IMAGE" 2>/dev/null || true)
if [ "$current" = "$inputs" ]; then
  echo "image: $IMAGE is current (inputs $inputs)" >&2
  echo "$IMAGE"
  exit 0
fi

# The host's caches, mounted into the RUN steps that download and compile (created if missing).
gomod="$(go env GOMODCACHE 2>/dev/null || echo "$HOME/go/pkg/mod")"
gobuild="$(go env GOCACHE 2>/dev/null || echo "$HOME/.cache/go-build")"
npmcache="$HOME/.npm"
mkdir -p "$gomod" "$gobuild" "$npmcache"

echo "image: building $IMAGE${PLATFORM:+ for $PLATFORM}" >&2
start=$(date +%s)
# --network host: the RUN steps use this host's network namespace (no bridge, no firewall rules
# added to the host); they download from Debian's and npm's servers like the host does.
podman build --format docker --layers --jobs 2 --network host \
  ${PLATFORM:+--platform "$PLATFORM"} \
  -v "$gomod:/go/pkg/mod" -v "$gobuild:/root/.cache/go-build" -v "$npmcache:/root/.npm" \
  --label "containerboot.inputs=$inputs" -f "$DOCKERFILE" -t "$IMAGE" . >&2
echo "image: built $IMAGE in $(( $(date +%s) - start )) s, $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes" >&2
echo "$IMAGE"
