# The containerboot image: a drop-in for tailscale/tailscale:v1.102.3 (same paths, same entrypoint)
# with this TypeScript containerboot as PID 1. Multi-arch: docker buildx build --platform
# linux/amd64,linux/arm64 . ; here: bash scripts/image.sh (local stand-ins for the base images).
# Layout, sizes and build times: docs/IMAGE.md.
ARG GO_IMAGE=golang:1.26-bookworm
ARG NODE_IMAGE=node:24-bookworm-slim
ARG BASE_IMAGE=debian:bookworm-slim

# tailscaled v1.102.3 from the Go module proxy with upstream's image build tags, plus ts_include_cli:
# the CLI linked into tailscaled (upstream's own space saving: run as `tailscale`, it is the CLI),
# so /usr/local/bin/tailscale is a symlink to it. -s -w drops the symbol table and DWARF (panics
# still print function names). The version stamps make `tailscale version` print 1.102.3 rather
# than `go install`'s 1.102.3-ERR-BuildInfo. docs/IMAGE.md has what each choice saves.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS tailscale
ARG TARGETARCH
ARG TAILSCALE_VERSION=v1.102.3
RUN CGO_ENABLED=0 GOARCH=$TARGETARCH go install -trimpath -tags ts_kube,ts_package_container,ts_include_cli \
      -ldflags="-s -w -X tailscale.com/version.longStamp=${TAILSCALE_VERSION#v} -X tailscale.com/version.shortStamp=${TAILSCALE_VERSION#v}" \
      tailscale.com/cmd/tailscaled@$TAILSCALE_VERSION \
 && bin=$(go env GOPATH)/bin && if [ -d "$bin/linux_$TARGETARCH" ]; then bin=$bin/linux_$TARGETARCH; fi \
 && mkdir -p /out/usr/local/bin && cp "$bin/tailscaled" /out/usr/local/bin/ && ln -s tailscaled /out/usr/local/bin/tailscale

# The bundle, koffi and Node for the target architecture (scripts/image-payload.mjs has the layout).
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS app
ARG TARGETARCH
RUN apt-get update && apt-get install -y --no-install-recommends binutils \
      $([ "$TARGETARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ] && echo binutils-aarch64-linux-gnu) \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/image-payload.mjs scripts/install-go-tools.sh scripts/
COPY bin/containerboot bin/
COPY src src
RUN node scripts/build.mjs \
 && STRIP=$([ "$TARGETARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ] && echo aarch64-linux-gnu-strip || echo strip) \
    node scripts/image-payload.mjs "$TARGETARCH" /out

# The runtime root file system: Debian's iptables (legacy for iptables/ip6tables, as upstream's image,
# for hosts without nf_tables, #17854), iptables-nft, nftables/libnftables, iproute2 and the CA
# bundle; then pruned to what runs (no package manager: scripts/image-rootfs.sh says what stays).
FROM ${BASE_IMAGE} AS rootfs
COPY scripts/image-rootfs.sh /tmp/
RUN bash /tmp/image-rootfs.sh && rm /tmp/image-rootfs.sh

# One layer for the base (flattened: what the rootfs stage deleted costs nothing), one for
# tailscaled, one for Node + the bundle.
FROM scratch
COPY --from=rootfs / /
COPY --from=tailscale /out/ /
COPY --from=app /out/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# `containerboot health` asks tailscaled's LocalAPI (or /healthz when TS_ENABLE_HEALTH_CHECK is on).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/usr/local/bin/containerboot", "health"]
ENTRYPOINT ["/usr/local/bin/containerboot"]
