// Floor for "socket created → first request": a minimal watcher process (socket-floor-client.cjs)
// sends one pre-warmed request when the socket appears. Run: node_modules/.bin/node bench/socket-floor.mjs
import { spawn } from 'node:child_process'; import http from 'node:http'; import fs from 'node:fs';
const res = [];
for (let i = 0; i < 15; i++) {
  const dir = fs.mkdtempSync('/tmp/floor-'); const sock = dir + '/ts.sock';
  const c = spawn(process.execPath, [new URL('./socket-floor-client.cjs', import.meta.url).pathname, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => c.stdout.once('data', r));
  await new Promise((r) => setTimeout(r, 50));
  let t0, t1;
  const srv = http.createServer((q, s) => { t1 ??= performance.now(); s.end('x'); });
  t0 = performance.now(); srv.listen(sock);
  await new Promise((r) => c.once('exit', r)); srv.close();
  res.push(t1 - t0);
}
res.sort((a, b) => a - b); console.log('floor median ms', res[7].toFixed(2), 'max', res[14].toFixed(2));
