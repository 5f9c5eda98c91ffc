// The project's fake Kubernetes API server (test/support/fakeKubeApi.ts) as a stand-alone process,
// so it can run inside a lab pod namespace on 127.0.0.1 next to containerboot and the real
// tailscaled (whose kubestore keeps its state in the Secret).
//   node kube-api-server.mjs <root dir> <control socket>
// Prints one JSON line {port, saDir} when ready. The control socket (a unix socket, reachable from
// the test process across namespaces) answers GET /secrets/<name> with the decoded Secret data
// (404 when absent), GET /requests with the request log, and GET /secrets/<name>/history/<key>
// with every value the key took and when ({at, value}; `at` is wall-clock ms with sub-ms precision,
// comparable with the test process's performance.timeOrigin + performance.now()).
import fs from 'node:fs';
import http from 'node:http';
import { startFakeKubeApi } from '../support/fakeKubeApi.js';

const [root, control] = process.argv.slice(2);
if (!root || !control) throw new Error('usage: kube-api-server <root dir> <control socket>');
interface Change { at: number; value: string | undefined }
const history = new Map<string, Map<string, Change[]>>(); // secret → key → changes, oldest first
const record = (name: string): void => {
  const at = performance.timeOrigin + performance.now();
  const data = api.secret(name) ?? {};
  const keys = history.get(name) ?? new Map<string, Change[]>();
  history.set(name, keys);
  for (const key of new Set([...Object.keys(data), ...keys.keys()])) {
    const h = keys.get(key) ?? [];
    if (h.length === 0 || h[h.length - 1]!.value !== data[key]) h.push({ at, value: data[key] });
    keys.set(key, h);
  }
};
const api = await startFakeKubeApi({ root, secrets: { tailscale: {} }, onSecretWrite: (name) => record(name) });
fs.rmSync(control, { force: true });
const ctl = http.createServer((req, res) => {
  const m = req.url?.match(/^\/secrets\/([^/]+)$/);
  const hm = req.url?.match(/^\/secrets\/([^/]+)\/history\/([^/]+)$/);
  let body: unknown;
  if (m) body = api.secret(decodeURIComponent(m[1]));
  else if (hm) body = history.get(decodeURIComponent(hm[1]))?.get(decodeURIComponent(hm[2])) ?? [];
  else if (req.url === '/requests') body = api.requests.map((r) => ({ ...r }));
  if (body === undefined) {
    res.writeHead(404).end('not found\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
});
ctl.listen(control, () => console.log(JSON.stringify({ port: api.port, saDir: api.saDir })));
process.on('SIGTERM', () => {
  ctl.close();
  void api.close().then(() => process.exit(0));
});
