// `npm run demo`: containerboot as an ingress proxy in front of a small web page, on a real
// tailnet (headscale + tailscaled in network namespaces), fetched by a peer through the tailnet.
//   bash scripts/demo.sh          run, keep the lab up until Ctrl-C
//   bash scripts/demo.sh --once   run once, clean up, exit (non-interactive)
import { Lab, LOGIN_SERVER, waitFor, type LabNode } from '../test/lab/lab.js';
import { localapiJSON } from '../test/lab/localapi.js';

const once = process.argv.includes('--once');
const t0 = Date.now();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s`;
let stepNo = 0;
const step = (msg: string) => console.log(`${dim(stamp())} ${bold(`[${++stepNo}]`)} ${msg}`);
const info = (msg: string) => console.log(`${' '.repeat(9)}    ${msg}`);

let lab: Lab | undefined;
let stopping = false;
async function cleanup(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    step('cleaning up: containerboot (SIGTERM), tailscaled peers, headscale, namespaces');
    try {
      await lab?.teardown();
    } catch (e) {
      console.error(`demo: ${(e as Error).message}`);
      code = 1;
    }
    info(`done; logs kept in .lab/logs/${lab ? lab.dir.split('/').pop() : ''}`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void cleanup(0));
process.on('SIGTERM', () => void cleanup(0));

async function fetchThroughTailnet(from: LabNode, url: string) {
  const start = Date.now();
  let attempts = 0;
  const r = await waitFor(`GET ${url}`, async () => {
    attempts++;
    const res = await lab!.curl(from, url, 10);
    if (res.status !== 200 && process.env.CBL_DEMO_DEBUG) info(dim(`attempt ${attempts}: ${res.status} ${res.error}`));
    return res.status === 200 ? res : undefined;
  }, 30_000, 100);
  return { ...r, ms: Date.now() - start, attempts };
}

try {
  console.log(bold('containerboot demo: an ingress proxy on a real tailnet (tailscaled v1.102.3, headscale v0.29.2)'));
  step('starting the lab: network namespaces + bridges (no default route), headscale with embedded DERP');
  lab = await Lab.start({ name: 'demo', log: info, signalHandlers: false });
  info(`lab id ${lab.id}; control server ${LOGIN_SERVER}`);

  step('cluster namespace: a small web page on 10.232.0.x:80');
  const cluster = await lab.addNode('cluster', { cluster: true });
  await lab.startWebServer(cluster, 'the cluster web page', 80);
  info(`backend http://${cluster.clusterIP}:80/ (only reachable on the cluster bridge)`);

  step('a tailnet peer "laptop": plain tailscaled + tailscale up with a single-use key');
  const tp = Date.now();
  const laptop = await lab.startPeer('laptop', { hostname: 'laptop', kernel: true });
  info(`laptop is Running as ${await laptop.ip4()} after ${Date.now() - tp} ms`);

  step('the "pod": bin/containerboot with TS_USERSPACE=false TS_DEST_IP=<backend> (ingress proxy)');
  const pod = await lab.addNode('pod', { lan: true, cluster: true });
  await lab.addRoute(cluster, '100.64.0.0/10', pod.clusterIP!);
  const env = {
    TS_AUTHKEY: await lab.createKey({ reusable: false }),
    TS_HOSTNAME: 'web-ingress',
    TS_LOGIN_SERVER: LOGIN_SERVER,
    TS_USERSPACE: 'false',
    TS_DEST_IP: cluster.clusterIP!,
    TS_ENABLE_HEALTH_CHECK: 'true',
    TS_LOCAL_ADDR_PORT: `${pod.lanIP}:9002`,
  };
  for (const [k, v] of Object.entries(env)) info(`${k}=${k === 'TS_AUTHKEY' ? 'hskey-auth-…(redacted)' : v}`);
  const cb = lab.startContainerboot(pod, { env });
  const running = await waitFor('Running', async () => {
    if (!cb.proc.running) throw new Error(`containerboot exited:\n${cb.redact(cb.proc.tail(30))}`);
    const s = await localapiJSON(cb.socket, 'status').catch(() => undefined);
    return s?.BackendState === 'Running' && s.TailscaleIPs?.length ? { s, at: Date.now() } : undefined;
  }, 60_000, 20);
  const proxyIP = (running.s.TailscaleIPs as string[]).find((a) => !a.includes(':'))!;
  step(`containerboot: tailscaled Running as ${proxyIP} (${running.s.Self.DNSName}) — exec → Running ${running.at - cb.execAt} ms`);
  await cb.waitStartupComplete(30_000);
  const startupAt = Date.now();
  step(`containerboot: "Startup complete, waiting for shutdown signal" — Running → Startup complete ≤ ${Math.max(0, startupAt - running.at)} ms`);
  for (const l of cb.output().split('\n').filter((l) => l.startsWith('boot: '))) info(dim(l));

  step(`laptop fetches http://${proxyIP}/ through the tailnet (WireGuard → proxy DNAT → cluster backend)`);
  const tw = Date.now();
  await laptop.waitForPeer('web-ingress');
  // (waitForPeer also waits for the new node's home DERP: packets sent before the peer knows it
  // are lost, and WireGuard retries its handshake only after 5 s.)
  info(`laptop's netmap lists web-ingress with its home DERP after ${Date.now() - tw} ms`);
  const first = await fetchThroughTailnet(laptop.node, `http://${proxyIP}/`);
  info(`first request: HTTP ${first.status} in ${first.ms} ms${first.attempts > 1 ? ` (${first.attempts} attempts)` : ''} (${Date.now() - cb.execAt} ms after containerboot started)`);
  info(`body: ${first.body.trim()}`);
  const second = await fetchThroughTailnet(laptop.node, `http://${proxyIP}/hello`);
  info(`second request: ${second.ms} ms — ${second.body.trim()}`);
  const health = await lab.curl(lab.headscale.node, `http://${pod.lanIP}:9002/healthz`);
  info(`/healthz on ${pod.lanIP}:9002 → ${health.status} ${health.body.trim()}`);

  step('headscale sees:');
  for (const n of await lab.headscale.nodes()) info(`${String(n.id).padStart(2)}  ${n.name.padEnd(12)} ${n.ipAddresses.join(', ').padEnd(32)} ${n.online ? 'online' : 'offline'}`);

  console.log('');
  console.log(bold('summary'));
  info(`containerboot exec → Running        ${running.at - cb.execAt} ms`);
  info(`Running → Startup complete          ≤ ${Math.max(0, startupAt - running.at)} ms`);
  info(`first request through the tailnet   ${first.ms} ms`);
  if (once) await cleanup(0);
  console.log('');
  info(bold(`lab is up. Try: ip netns exec ${laptop.node.ns} curl http://${proxyIP}/   — Ctrl-C to stop and clean up`));
  await new Promise(() => {});
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}`);
  await cleanup(1);
}
