// Switching from upstream's image to this one and back, on the same state volume and in the same
// network namespace (as `docker run --network host` users do; here the namespace is a lab one, never
// the host's): the node identity is kept, and neither side leaves duplicate or conflicting rules.
// Upstream's image is the local stand-in test/image/upstream.Dockerfile (upstream's own binaries).
// Both firewall modes: the default (iptables-legacy in both images) and TS_DEBUG_FIREWALL_MODE=nftables
// in both (upstream's rules in the conventional `ip nat` / `ip filter` tables, ours in `ip containerboot`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type LabNode, type Peer, waitFor } from '../lab/lab.js';
import { ensureImage, labContainerEnv, podman, removeAllContainers, runContainer, stateDir } from './podman.js';

let ours: string;
let upstream: string;
let lab: Lab;
let cluster: LabNode;
let laptop: Peer;

beforeAll(async () => {
  ours = ensureImage();
  upstream = ensureImage('upstream');
  lab = await Lab.start({ name: 'image-switch' });
  cluster = await lab.addNode('cluster', { cluster: true });
  await lab.startWebServer(cluster, 'cluster-backend', 8080);
  laptop = await lab.startPeer('laptop', { hostname: 'laptop', kernel: true });
}, 20 * 60_000);
afterAll(async () => {
  await removeAllContainers();
  await lab?.teardown();
}, 120_000);

/** Every rule in the namespace, per backend: iptables-legacy (v4, v6) and nftables (incl. iptables-nft's tables). */
async function rules(node: LabNode): Promise<{ legacy: string[]; nft: string[] }> {
  const legacy: string[] = [];
  for (const cmd of ['iptables-legacy-save', 'ip6tables-legacy-save']) {
    let table = '';
    for (const l of (await lab.exec(node, [cmd])).stdout.split('\n')) {
      if (l.startsWith('*')) table = l;
      if (l.startsWith('-A ')) legacy.push(`${cmd} ${table} ${l}`);
    }
  }
  const nft: string[] = [];
  let ctx: string[] = [];
  for (const raw of (await lab.exec(node, ['nft', 'list', 'ruleset'])).stdout.split('\n')) {
    const l = raw.trim();
    if (/^(table|chain|map) /.test(l)) ctx = l.startsWith('table') ? [l] : [ctx[0], l];
    else if (l !== '' && l !== '}' && !/^(type|policy) /.test(l)) nft.push(`${ctx.join(' / ')} / ${l}`);
  }
  return { legacy, nft };
}

const duplicates = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
const dnatTo = (r: { legacy: string[]; nft: string[] }, ip: string) =>
  [...r.legacy, ...r.nft].filter((l) => l.includes(`--to-destination ${ip}`) || l.includes(`dnat to ${ip}`) || l.includes(`dnat ip to ${ip}`)
    // This image's nftables DNATs are elements of its map: `map cb-dnat { … elements = { <a> comment "…" : <ip> } }`.
    || (l.includes(' / map cb-dnat {') && new RegExp(`: ${ip.replace(/\./g, '\\.')}(?![\\d.])`).test(l)));

describe.each([
  ['default (iptables-legacy)', {}],
  ['nftables', { TS_DEBUG_FIREWALL_MODE: 'nftables' }],
] as const)('upstream image → this image → upstream image, same volume and network namespace, %s firewall mode', (mode, modeEnv) => {
  it('keeps the node identity and leaves no duplicate or conflicting rules', async () => {
    const host = mode === 'nftables' ? 'img-switch-nft' : 'img-switch';
    const pod = await lab.addNode(mode === 'nftables' ? 'switchnft' : 'switch', { lan: true, cluster: true });
    await lab.exec(pod, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    const key = await lab.createKey({ reusable: true });
    const volume = stateDir(pod, 'state');
    const env = {
      ...labContainerEnv(), TS_AUTHKEY: key, TS_HOSTNAME: host, TS_STATE_DIR: '/var/lib/tailscale',
      TS_USERSPACE: 'false', TS_DEST_IP: cluster.clusterIP!, ...modeEnv,
    };
    const flags = ['--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', '--device', '/dev/net/tun', '-v', `${volume}:/var/lib/tailscale`];
    let identity: { id: string; ips: string[] } | undefined;
    const report: string[] = [];
    const problems: string[] = [];

    for (const [i, image] of [upstream, ours, upstream].entries()) {
      const which = `${mode}: ${i + 1}. ${image === ours ? 'this image' : 'upstream stand-in'}`;
      const c = await runContainer({ image, node: pod, env, flags });
      const st = await c.waitRunning(90_000);
      if (identity === undefined) identity = { id: st.Self.ID, ips: st.TailscaleIPs };
      expect({ id: st.Self.ID, ips: st.TailscaleIPs }, which).toEqual(identity);
      const ip = identity.ips.find((a) => !a.includes(':'))!;
      await laptop.waitForPeer(host);
      const res = await waitFor(`${which}: the backend through ${ip}`, async () => {
        const x = await lab.curl(laptop.node, `http://${ip}:8080/switch`, 3);
        return x.status === 200 ? x : undefined;
      }, 30_000, 300);
      expect(res.body).toContain('hello from cluster-backend');

      // Rule problems are collected over all three runs, so one run shows the whole picture.
      const running = await rules(pod);
      const dupL = duplicates(running.legacy);
      const dupN = duplicates(running.nft);
      if (dupL.length > 0) problems.push(`${which}: duplicate iptables-legacy rules:\n  ${dupL.join('\n  ')}`);
      if (dupN.length > 0) problems.push(`${which}: duplicate nftables rules:\n  ${dupN.join('\n  ')}`);
      // One DNAT to the backend, in one backend: not one per image that ever ran.
      const dnat = dnatTo(running, cluster.clusterIP!);
      if (dnat.length !== 1) problems.push(`${which}: ${dnat.length} DNAT rules to the backend:\n  ${dnat.join('\n  ')}`);
      report.push(`${which}: ${running.legacy.length} legacy + ${running.nft.length} nft rules while running`);

      const stop = await podman(['stop', '-t', '20', c.name], 60_000);
      expect(stop.code, stop.stderr).toBe(0);
      expect(await c.waitExited(), `${which} exit code`).toBe(0);
      expect((await c.logs()).includes(key), `${which}: auth key in the log`).toBe(false);
      await c.remove();
    }
    expect((await lab.headscale.nodes()).filter((n) => n.name === host)).toHaveLength(1);
    console.log(report.join('\n'));
    expect(problems, problems.join('\n')).toEqual([]);
  }, 600_000);
});
