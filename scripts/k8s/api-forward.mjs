// Runs inside the cluster's network namespace: a unix socket (reachable from any namespace through
// the file system) piped to the API server, so the tests in the host namespace can talk to it
// without an interface or route in the host namespace.   node api-forward.mjs <socket> <host> <port>
// The listen side may also be a TCP address, `[addr]:port` (the IPv6 API host test of
// test/k8s/kubeRows.suite.ts, run in a lab namespace); it prints `listening` once it is.
import fs from 'node:fs';
import net from 'node:net';

const [listen, host, port] = process.argv.slice(2);
const tcp = /^\[(.+)\]:(\d+)$/.exec(listen);
if (!tcp) fs.rmSync(listen, { force: true });
net.createServer((c) => {
  const u = net.connect(Number(port), host);
  c.pipe(u).pipe(c);
  const end = () => { c.destroy(); u.destroy(); };
  c.on('error', end);
  u.on('error', end);
}).listen(...(tcp ? [Number(tcp[2]), tcp[1]] : [listen]), () => console.log('listening'));
process.on('SIGTERM', () => { if (!tcp) fs.rmSync(listen, { force: true }); process.exit(0); });
