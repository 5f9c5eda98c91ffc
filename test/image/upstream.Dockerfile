# A local stand-in for tailscale/tailscale:v1.102.3 (no image registry is reachable here), for the
# image tests' "switch from upstream's image and back" check: upstream's own containerboot,
# tailscaled and tailscale, built as black boxes from the Go module proxy with upstream's image
# build tags (not stripped, as upstream's), in upstream's layout. Upstream's base is Alpine 3.22;
# this one is Debian bookworm-slim with the same tools (iptables/ip6tables on the legacy backend,
# iproute2, CA certificates). Built by `bash scripts/image.sh upstream`.
ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
ARG TAILSCALE_VERSION=v1.102.3
RUN CGO_ENABLED=0 go install -trimpath -tags ts_kube,ts_package_container \
      -ldflags="-X tailscale.com/version.longStamp=${TAILSCALE_VERSION#v} -X tailscale.com/version.shortStamp=${TAILSCALE_VERSION#v}" \
      tailscale.com/cmd/tailscaled@$TAILSCALE_VERSION tailscale.com/cmd/tailscale@$TAILSCALE_VERSION \
      tailscale.com/cmd/containerboot@$TAILSCALE_VERSION

FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends iptables iproute2 ca-certificates \
 && update-alternatives --set iptables /usr/sbin/iptables-legacy \
 && update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*
COPY --from=build /go/bin/tailscaled /go/bin/tailscale /go/bin/containerboot /usr/local/bin/
RUN mkdir /tailscale && ln -s /usr/local/bin/containerboot /tailscale/run.sh
ENTRYPOINT ["/usr/local/bin/containerboot"]
