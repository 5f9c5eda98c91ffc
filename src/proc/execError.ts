// Go's os/exec wording for a program that cannot be started, instead of Node's `spawn X ENOENT`
// (upstream prints `exec: "tailscaled": executable file not found in $PATH`; issue 12 item 4).

/** The message Go's exec package gives for a failed start of `cmd`, for the errors Node reports. */
export function execErrorText(cmd: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `exec: ${JSON.stringify(cmd)}: executable file not found in $PATH`;
  if (err.code === 'EACCES') return `exec: ${JSON.stringify(cmd)}: permission denied`;
  return err.message;
}
