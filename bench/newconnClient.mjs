// Client of bench/newconn.mjs (runs in the cluster-side namespace): opens TCP connections to
// host:port with `conc` in flight for `secs` seconds; each is reset as soon as it is established
// (no TIME_WAIT anywhere). Prints connections per second.
import net from 'node:net';

const [host, port, secs, conc] = process.argv.slice(2);
const end = performance.now() + Number(secs) * 1000;
let done = 0;
let failed = 0;
function one() {
  if (performance.now() >= end) return Promise.resolve();
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    s.once('connect', () => { done++; s.resetAndDestroy(); resolve(); });
    s.once('error', () => { failed++; resolve(); });
  }).then(one);
}
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(conc) }, one));
const elapsed = (performance.now() - t0) / 1000;
process.stdout.write(`${JSON.stringify({ rate: done / elapsed, done, failed })}\n`);
