// Network-namespace lab for kernel tests and benchmarks: only namespaces we create (cbfw-*),
// only processes we start, everything removed in cleanup() even after failures.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import type { RunnerInput, RunnerOutput } from './runner.js';

const pexec = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const NODE = path.join(ROOT, 'node_modules/.bin/node');

export async function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  if (opts.input !== undefined) {
    return new Promise((resolve, reject) => {
      const c = spawn(cmd, args);
      let stdout = '', stderr = '';
      c.stdout.on('data', (b) => (stdout += b));
      c.stderr.on('data', (b) => (stderr += b));
      c.on('error', reject);
      c.on('close', (code) => {
        const r = { code: code ?? 1, stdout, stderr };
        if (r.code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr}`));
        else resolve(r);
      });
      c.stdin.end(opts.input);
    });
  }
  try {
    const r = await pexec(cmd, args, { maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (opts.allowFail && typeof e.code === 'number') return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** Fails (never skips) with a message naming what is missing. */
export async function requireTools(tools: string[]): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) {
    const r = await sh('sh', ['-c', `command -v ${t}`], { allowFail: true });
    if (r.code !== 0) missing.push(t);
  }
  if (missing.length) throw new Error(`kernel firewall tests need these programs, which are missing: ${missing.join(', ')} (run scripts/setup.sh as root)`);
}

let bundled: Promise<string> | undefined;
/**
 * Bundles the runner (sources import `.js` paths that Node's type stripping cannot map). The file
 * is named by its content hash, so parallel test workers share it and nothing piles up.
 */
export function runnerScript(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('esbuild');
    const res = await build({
      entryPoints: [path.join(ROOT, 'test/firewall/helpers/runner.ts')], write: false, bundle: true, platform: 'node',
      format: 'esm', target: 'node24', external: ['koffi'], logLevel: 'warning',
      banner: { js: "import { createRequire as __cbCreateRequire } from 'node:module'; const require = __cbCreateRequire(import.meta.url);" },
    });
    const code = res.outputFiles[0].contents;
    const dir = path.join(ROOT, 'node_modules/.cache/cbfw');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `runner-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
    if (!existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, file);
    }
    return file;
  })();
  return bundled;
}

export class Lab {
  readonly id = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  /** Creates `cbfw-<role>-<id>`; fails with a clear message if namespaces cannot be created. */
  async netns(role: string): Promise<string> {
    const name = `cbfw-${role}-${this.id}`;
    const r = await sh('ip', ['netns', 'add', name], { allowFail: true });
    if (r.code !== 0) throw new Error(`cannot create network namespace ${name} (root and iproute2 are required): ${r.stderr.trim()}`);
    this.namespaces.push(name);
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  exec(ns: string, cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}) {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /** Starts a long-running process in `ns`; killed (by PID) in cleanup. */
  start(ns: string, cmd: string, args: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(c);
    return c;
  }

  /** Node HTTP server answering `<msg> saw client <addr>`; `/slow` answers after 3 s. */
  async httpServer(ns: string, host: string, port: number, msg: string): Promise<void> {
    const src = `const [h,p,msg]=process.argv.slice(1);require("http").createServer((q,s)=>{const a=()=>s.end(msg+" saw client "+q.socket.remoteAddress+"\\n");if(q.url==="/slow")setTimeout(a,3000);else a()}).listen(+p,h,()=>console.log("listening"))`;
    const c = this.start(ns, NODE, ['-e', src, host, String(port), msg]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`server ${host}:${port} in ${ns} did not start`)), 10_000);
      c.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('listening')) { clearTimeout(t); resolve(); } });
      c.on('exit', (code) => { clearTimeout(t); reject(new Error(`server ${host}:${port} in ${ns} exited ${code}`)); });
    });
  }

  /** Runs the engine inside `ns` in a fresh process. */
  async runEngine(ns: string, input: RunnerInput): Promise<RunnerOutput> {
    const script = await runnerScript();
    const r = await this.exec(ns, 'env', [`CBFW_NETNS=${ns}`, NODE, script, JSON.stringify(input)], { allowFail: true });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as RunnerOutput;
    } catch {
      throw new Error(`engine runner in ${ns} printed no result (exit ${r.code}): ${r.stderr}`);
    }
  }

  async cleanup(): Promise<void> {
    const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
    // `ip netns exec` execs the command, so each child PID is the server itself.
    const exits = this.children.filter(running).map((c) => new Promise((r) => {
      c.once('exit', r);
      setTimeout(r, 5000);
      try { process.kill(c.pid!, 'SIGTERM'); } catch { r(null); }
    }));
    await Promise.all(exits);
    for (const ns of this.namespaces) await sh('ip', ['netns', 'del', ns], { allowFail: true });
    this.namespaces.length = 0;
  }
}

/** The three-namespace topology of netfilter.md §4.1 (tailscale0 on the proxy side, mtu 1280). */
export async function topology(lab: Lab): Promise<{ peer: string; proxy: string; back: string }> {
  const peer = await lab.netns('peer');
  const proxy = await lab.netns('proxy');
  const back = await lab.netns('back');
  await sh('ip', ['link', 'add', 'peer0', 'netns', peer, 'type', 'veth', 'peer', 'name', 'tailscale0', 'netns', proxy]);
  await sh('ip', ['link', 'add', 'eth0', 'netns', proxy, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', back]);
  const ipn = (ns: string, ...a: string[]) => sh('ip', ['-n', ns, ...a]);
  await ipn(peer, 'addr', 'add', '100.64.0.2/24', 'dev', 'peer0');
  await ipn(peer, 'link', 'set', 'peer0', 'up');
  await ipn(proxy, 'addr', 'add', '100.64.0.1/24', 'dev', 'tailscale0');
  await ipn(proxy, 'link', 'set', 'tailscale0', 'mtu', '1280');
  await ipn(proxy, 'link', 'set', 'tailscale0', 'up');
  await ipn(proxy, 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0');
  await ipn(proxy, 'link', 'set', 'eth0', 'up');
  await ipn(back, 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0');
  await ipn(back, 'link', 'set', 'eth0', 'up');
  await ipn(back, 'route', 'add', 'default', 'via', '192.0.2.1');
  // A second backend address (load balancing) and IPv6 everywhere (nodad: usable at once).
  await ipn(back, 'addr', 'add', '192.0.2.3/24', 'dev', 'eth0');
  await ipn(peer, 'addr', 'add', 'fd7a:115c:a1e0::2/64', 'dev', 'peer0', 'nodad');
  await ipn(proxy, 'addr', 'add', 'fd7a:115c:a1e0::1/64', 'dev', 'tailscale0', 'nodad');
  await ipn(proxy, 'addr', 'add', 'fd00:2::1/64', 'dev', 'eth0', 'nodad');
  await ipn(back, 'addr', 'add', 'fd00:2::2/64', 'dev', 'eth0', 'nodad');
  await ipn(back, '-6', 'route', 'add', 'default', 'via', 'fd00:2::1');
  await lab.exec(proxy, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await lab.exec(proxy, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  return { peer, proxy, back };
}

export type BackendName = 'nftables' | 'iptables-legacy' | 'iptables-nft';
export const BACKENDS: BackendName[] = ['nftables', 'iptables-legacy', 'iptables-nft'];

export function engineMode(b: BackendName): Pick<RunnerInput, 'mode' | 'variant'> {
  if (b === 'nftables') return { mode: 'nftables' };
  return { mode: 'iptables', variant: b === 'iptables-legacy' ? 'legacy' : 'nft' };
}

export function toolsFor(b: BackendName): string[] {
  if (b === 'nftables') return ['nft', 'ip', 'curl', 'ss'];
  const v = b === 'iptables-legacy' ? 'legacy' : 'nft';
  return [`iptables-${v}-save`, `iptables-${v}-restore`, `ip6tables-${v}-save`, `ip6tables-${v}-restore`, 'ip', 'curl', 'ss'];
}

/** What is installed in `ns`, as text (nft ruleset or iptables-save of both families). */
export async function dumpRules(lab: Lab, ns: string, b: BackendName): Promise<string> {
  if (b === 'nftables') return (await lab.exec(ns, 'nft', ['list', 'ruleset'])).stdout;
  const v = b === 'iptables-legacy' ? 'legacy' : 'nft';
  const four = (await lab.exec(ns, `iptables-${v}-save`, [])).stdout;
  const six = (await lab.exec(ns, `ip6tables-${v}-save`, [])).stdout;
  return `${four}\n${six}`.split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

export interface PacketTopology {
  lab: Lab;
  /** The namespaces, available once the suite's beforeAll ran. */
  ns: { peer: string; proxy: string; back: string };
  /** curl from a namespace (3 s limit); never throws. */
  curl(from: string, url: string): ReturnType<Lab['exec']>;
}

/**
 * Registers beforeAll/afterAll for a packet-test suite on `backend`: the three-namespace topology
 * with the cluster backend (192.0.2.2:8080, `backend-ok`) and the tailnet target
 * (100.64.0.2:80, `tailnet-target-ok`) serving, plus whatever `extra` starts.
 */
export function usePacketTopology(backend: BackendName, extra?: (t: PacketTopology) => Promise<void>): PacketTopology {
  const lab = new Lab();
  const t: PacketTopology = {
    lab,
    ns: { peer: '', proxy: '', back: '' },
    curl: (from, url) => lab.exec(from, 'curl', ['-sS', '--max-time', '3', url], { allowFail: true }),
  };
  beforeAll(async () => {
    await requireTools(toolsFor(backend));
    Object.assign(t.ns, await topology(lab));
    await lab.httpServer(t.ns.back, '192.0.2.2', 8080, 'backend-ok');
    await lab.httpServer(t.ns.peer, '100.64.0.2', 80, 'tailnet-target-ok');
    await extra?.(t);
  }, 60_000);
  afterAll(() => lab.cleanup(), 60_000);
  return t;
}
