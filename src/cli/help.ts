// `containerboot help` (and `--help`, `-h`): the subcommands. With no argument containerboot is
// the container entrypoint, configured by TS_* variables like upstream's.
export const HELP_TEXT = `usage: containerboot [command]

Without a command, containerboot is the container entrypoint: it starts tailscaled, logs in and
runs the proxies configured by the TS_* environment variables (see README.md).

Commands:
  health      exit 0 when tailscaled in this container is Running, else print why and exit 1
              (the image's HEALTHCHECK)
  doctor      check this container's configuration and host (tun, capabilities, sysctls, firewall,
              Kubernetes permissions); one line per check with a fix for each failure
  help        show this help (also --help, -h)
  --version   print containerboot's version and the tailscaled version it pairs with (also version)
`;

export async function help(): Promise<number> {
  process.stdout.write(HELP_TEXT);
  return 0;
}
