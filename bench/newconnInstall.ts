// Runs inside the proxy namespace of bench/newconn.mjs: installs N HA egress services with the
// real engine (2 port maps + SNAT each, one group per service, as the egress runner groups them).
// Services 0 and N-1 forward to the reachable target 100.64.0.2; the others to unused addresses.
import { spawnSync } from 'node:child_process';
import { createBackendFirewall } from '../src/firewall/create.js';
import type { ProxyRule } from '../src/firewall/types.js';

const [backend, nText] = process.argv.slice(2);
const n = Number(nText);
const here = spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).stdout?.trim();
if (!process.env.CBNC_NETNS || here !== process.env.CBNC_NETNS) {
  process.stderr.write('bench/newconnInstall.ts changes firewall rules: run it through bench/newconn.mjs (as root)\n');
  process.exit(2);
}
const groups: Record<string, ProxyRule[]> = {};
for (let i = 0; i < n; i++) {
  const target = i === 0 || i === n - 1 ? '100.64.0.2' : `100.64.${1 + (i >> 8)}.${i & 255}`;
  groups[`egress-svc:s${i}`] = [
    { kind: 'portmap', family: 4, svc: `s${i}`, proto: 'tcp', matchPort: 10000 + i, targetIP: target, targetPort: 80 },
    { kind: 'portmap', family: 4, svc: `s${i}`, proto: 'udp', matchPort: 20000 + i, targetIP: target, targetPort: 53 },
    { kind: 'snat', family: 4, dst: target, src: '100.64.0.1' },
    { kind: 'clamp-mss', family: 4 },
  ];
}
const mode = backend === 'nftables' ? { mode: 'nftables' as const } : { mode: 'iptables' as const, variant: (backend === 'iptables-legacy' ? 'legacy' : 'nft') as 'legacy' | 'nft' };
const fw = await createBackendFirewall({ ...mode, ipv6: false });
await fw.apply(groups);
fw.close();
process.stdout.write('installed\n');
