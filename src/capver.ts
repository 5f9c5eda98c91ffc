// Capability version of the bundled tailscaled (v1.102.3). Written as `tailscale_capver`, sent as the
// LocalAPI `Tailscale-Cap` header and used to pick cap-N.hujson files. Change it together with the
// tailscaled version in scripts/install-go-tools.sh and the image.
export const CAPABILITY_VERSION = 142;

/** The tailscaled/tailscale release containerboot is built and tested with (`containerboot doctor` compares). */
export const TAILSCALE_VERSION = '1.102.3';
