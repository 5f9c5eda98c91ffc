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
# still print function names). docs/IMAGE.md has what each choice saves.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS tailscale
ARG TARGETARCH
ARG TAILSCALE_VERSION=v1.102.3
RUN CGO_ENABLED=0 GOARCH=$TARGETARCH go install -trimpath -tags ts_kube,ts_package_container,ts_include_cli \
      -ldflags='-s -w' tailscale.com/cmd/tailscaled@$TAILSCALE_VERSION \
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
COPY scripts/build.mjs scripts/image-payload.mjs scripts/
COPY src src
RUN node scripts/build.mjs \
 && STRIP=$([ "$TARGETARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ] && echo aarch64-linux-gnu-strip || echo strip) \
    node scripts/image-payload.mjs "$TARGETARCH" /out

# iptables/ip6tables on the legacy backend as upstream's image (hosts without nf_tables, #17854);
# iptables-nft and nftables/libnftables for the other firewall modes; iproute2; CA certificates.
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends iptables nftables libnftables1 iproute2 ca-certificates \
 && update-alternatives --set iptables /usr/sbin/iptables-legacy \
 && update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/*
COPY --from=tailscale /out/ /
COPY --from=app /out/ /
# `containerboot health` asks tailscaled's LocalAPI (or /healthz when TS_ENABLE_HEALTH_CHECK is on).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/usr/local/bin/containerboot", "health"]
ENTRYPOINT ["/usr/local/bin/containerboot"]
