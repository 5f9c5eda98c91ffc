// Fake `tailscale` CLI: records its argv and asks the fake LocalAPI (POST /test/cli on the
// --socket path) for its exit code, so a test decides what each invocation does.
const fs = require('node:fs');
const http = require('node:http');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_LOG, `${JSON.stringify({ prog: 'tailscale', args, pid: process.pid })}\n`);
const sockArg = args.find((a) => a.startsWith('--socket='));
const sock = sockArg ? sockArg.slice('--socket='.length) : '/var/run/tailscale/tailscaled.sock';
const req = http.request({ socketPath: sock, method: 'POST', path: '/test/cli' }, (res) => {
  let b = '';
  res.on('data', (c) => { b += c; });
  res.on('end', () => process.exit(JSON.parse(b).exit));
});
req.on('error', (e) => { process.stderr.write(`fake tailscale: ${e.message}\n`); process.exit(1); });
req.end(JSON.stringify({ args }));
