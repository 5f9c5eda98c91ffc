// Fake tailscaled: records argv, env hints and PID, then lives until SIGTERM (exit 0).
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_LOG, `${JSON.stringify({ prog: 'tailscaled', args, pid: process.pid, certShareMode: process.env.TS_CERT_SHARE_MODE ?? null, glibcTunables: process.env.GLIBC_TUNABLES ?? null, tunablesMark: process.env.CONTAINERBOOT_OWN_TUNABLES ?? null })}\n`);
process.on('SIGTERM', () => {
  fs.appendFileSync(process.env.FAKE_LOG, `${JSON.stringify({ prog: 'tailscaled', event: 'SIGTERM', pid: process.pid })}\n`);
  process.exit(Number(process.env.FAKE_TAILSCALED_TERM_EXIT ?? 0));
});
process.on('SIGINT', () => {});
setInterval(() => {}, 1 << 30);
// Leave orphans behind: grandchildren whose parent exits at once get re-parented to PID 1.
const orphans = Number(process.env.FAKE_TAILSCALED_ORPHANS ?? 0);
if (orphans > 0) {
  const { spawnSync } = require('node:child_process');
  for (let i = 0; i < orphans; i++) spawnSync('sh', ['-c', '(sleep 0.3; exit 7) & exit 0']);
}
// Tests can make the fake daemon "crash" with a chosen exit code.
process.on('SIGUSR1', () => process.exit(Number(process.env.FAKE_TAILSCALED_USR1_EXIT ?? 3)));
