// The launcher (bin/containerboot, the image's /usr/local/bin/containerboot) sets a glibc malloc
// tunable for this process when the caller set none, and marks that it did. glibc read it at
// exec; it has no business in the environment of tailscaled, the CLI or iptables, which get the
// caller's environment as upstream passes it on.
export const OWN_TUNABLES_MARK = 'CONTAINERBOOT_OWN_TUNABLES';

/** Removes the launcher's GLIBC_TUNABLES (and its mark) from `env`; a caller's own is kept. */
export function dropLauncherTunables(env: NodeJS.ProcessEnv): void {
  if (env[OWN_TUNABLES_MARK] === undefined) return;
  if (env[OWN_TUNABLES_MARK] === '1') delete env.GLIBC_TUNABLES;
  delete env[OWN_TUNABLES_MARK];
}
