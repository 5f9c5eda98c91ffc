// Minimal floor: watch a dir, on the socket's appearance send one HTTP request (warm client).
const fs = require('fs'); const http = require('http'); const path = require('path');
const sock = process.argv[2];
const agent = new http.Agent({ keepAlive: true });
const w = http.request({ socketPath: sock + '.nope', path: '/', agent }); w.on('error', () => {}); w.end();
const watcher = fs.watch(path.dirname(sock), () => {
  try { fs.statSync(sock); } catch { return; }
  watcher.close();
  const r = http.request({ socketPath: sock, path: '/localapi/v0/x', agent, headers: { Host: 'local-tailscaled.sock' } }, (res) => { res.resume(); res.on('end', () => process.exit(0)); });
  r.on('error', (e) => { console.error(e.message); process.exit(1); });
  r.end();
});
process.stdout.write('ready\n');
