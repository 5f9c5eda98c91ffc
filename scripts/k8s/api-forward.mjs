// Runs inside the cluster's network namespace: a unix socket (reachable from any namespace through
// the file system) piped to the API server, so the tests in the host namespace can talk to it
// without an interface or route in the host namespace.   node api-forward.mjs <socket> <host> <port>
import fs from 'node:fs';
import net from 'node:net';

const [sock, host, port] = process.argv.slice(2);
fs.rmSync(sock, { force: true });
net.createServer((c) => {
  const u = net.connect(Number(port), host);
  c.pipe(u).pipe(c);
  const end = () => { c.destroy(); u.destroy(); };
  c.on('error', end);
  u.on('error', end);
}).listen(sock);
process.on('SIGTERM', () => { fs.rmSync(sock, { force: true }); process.exit(0); });
