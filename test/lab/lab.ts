// The real-stack lab: network namespaces joined by bridges (no default route anywhere, no
// address outside the namespaces it creates), headscale with its embedded DERP, plain tailscaled
// peers, and containerboot in a "pod" namespace. Used by test/e2e and by the demo.
//
// Topology of one lab (every name starts with `cbl<id>`; <id> is random per lab):
//
//   <id>-sw  switch namespace: bridge cblbr0 "lan" 10.231.7.0/24, bridge cblbr1 "cluster" 10.232.0.0/24
//   <id>-hs  headscale, lan 10.231.7.1 (control + embedded DERP on :8080, STUN :3478)
//   <id>-<role>  one namespace per pod / peer / cluster backend, with interface cbl0 on the lan
//                bridge and/or cbl1 on the cluster bridge
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LabProcess, WaitAbort, livePids, run, runOk, sleep, spawnInNs, waitFor } from './proc.js';
import { localapi, localapiJSON } from './localapi.js';
import { CONTAINERBOOT, HEADSCALE, NODE24, REPO_ROOT, TAILSCALE, TAILSCALED, TOOLS_BIN, assertPrerequisites, ensureBundle } from './tools.js';

export const LAN_PREFIX = '10.231.7';
export const CLUSTER_PREFIX = '10.232.0';
export const CLUSTER6_PREFIX = 'fd00:232';
export const HEADSCALE_IP = `${LAN_PREFIX}.1`;
export const LOGIN_SERVER = `http://${HEADSCALE_IP}:8080`;
export const BASE_DOMAIN = 'lab.test';
const LAB_ROOT = process.env.CBL_LAB_ROOT ?? '/var/tmp';
const REGISTRY = path.join(os.tmpdir(), 'cbl-lab-registry');
const WEB_SERVER = path.join(REPO_ROOT, 'test', 'lab', 'web-server.mjs');

/** Environment every tailscaled in the lab gets (and containerboot, which passes it on). */
export function labTailscaleEnv(dir: string): Record<string, string> {
  return {
    PATH: `${TOOLS_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: dir,
    // The embedded DERP is plain HTTP on the control port (real-stack-lab.md §2.3).
    TS_DEBUG_USE_DERP_HTTP: '1',
    TS_NO_LOGS_NO_SUPPORT: 'true',
    TS_LOGS_DIR: dir,
    TS_DISABLE_PORTMAPPER: '1',
    TS_DISABLE_UPNP: '1',
    TS_PANIC_IF_HIT_MAIN_CONTROL: '1',
    TS_DEBUG_LOG_RATE: 'all',
  };
}

export interface LabNode {
  role: string;
  ns: string;
  dir: string;
  lanIP?: string;
  clusterIP?: string;
  clusterIP6?: string;
}

export interface HeadscaleNode {
  id: number;
  name: string;
  givenName: string;
  ipAddresses: string[];
  online: boolean;
  approvedRoutes: string[];
  availableRoutes: string[];
  subnetRoutes: string[];
  raw: any;
}

export interface KeyOptions {
  reusable?: boolean;
  ephemeral?: boolean;
  expiration?: string;
  tags?: string[];
}

type Logger = (msg: string) => void;

// ---------------------------------------------------------------------------------------------
// Cleanup of namespaces and processes, also from a synchronous exit handler.

const activeLabs = new Set<Lab>();
let exitHandlerInstalled = false;

function nsPidsSync(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Ends every process inside `namespaces` (they are all ours: we created the namespaces) and deletes them. */
function destroyNamespacesSync(namespaces: string[]): void {
  for (const ns of namespaces) for (const pid of nsPidsSync(ns)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  for (const ns of namespaces) {
    for (let i = 0; i < 20 && nsPidsSync(ns).length > 0; i++) execFileSync('sleep', ['0.05']);
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
    fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
}

function killAllSync(): void {
  for (const pid of livePids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  for (const lab of activeLabs) lab.teardownSync();
}

let signalHandlersInstalled = false;
function installExitHandler(signals: boolean): void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', killAllSync);
  }
  // A test worker killed with SIGTERM/SIGINT does not run 'exit' handlers: clean up, then die
  // with the conventional status. (The demo installs its own, friendlier handlers instead.)
  if (signals && !signalHandlersInstalled) {
    signalHandlersInstalled = true;
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killAllSync();
        process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15));
      });
    }
  }
}

/** Removes namespaces of labs whose owning process died without cleaning up (e.g. a SIGKILLed worker). */
function reapStaleLabs(): void {
  fs.mkdirSync(REGISTRY, { recursive: true });
  for (const f of fs.readdirSync(REGISTRY)) {
    const p = path.join(REGISTRY, f);
    try {
      const rec = JSON.parse(fs.readFileSync(p, 'utf8')) as { owner: number; namespaces: string[]; dir: string };
      let alive = true;
      try { process.kill(rec.owner, 0); } catch { alive = false; }
      if (alive) continue;
      destroyNamespacesSync(rec.namespaces);
      fs.rmSync(rec.dir, { recursive: true, force: true });
      fs.rmSync(p, { force: true });
    } catch {
      /* unreadable record: leave it */
    }
  }
}

// ---------------------------------------------------------------------------------------------

export class Headscale {
  proc: LabProcess | undefined;
  readonly config: string;
  readonly url = LOGIN_SERVER;
  userId = 0;

  constructor(readonly lab: Lab, readonly node: LabNode) {
    this.config = path.join(node.dir, 'config.yaml');
  }

  writeConfig(): void {
    const d = this.node.dir;
    // Keys are flow-style YAML; see real-stack-lab.md §2.2 for why each value is what it is.
    const cfg = `server_url: ${LOGIN_SERVER}
listen_addr: ${HEADSCALE_IP}:8080
metrics_listen_addr: 127.0.0.1:9090
grpc_listen_addr: 127.0.0.1:50443
grpc_allow_insecure: false
unix_socket: ${d}/headscale.sock
unix_socket_permission: "0770"
noise:
  private_key_path: ${d}/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
derp:
  server:
    enabled: true
    region_id: 999
    region_code: lab
    region_name: "Lab embedded DERP"
    verify_clients: true
    stun_listen_addr: ${HEADSCALE_IP}:3478
    private_key_path: ${d}/derp_server_private.key
    automatically_add_embedded_derp_region: true
    ipv4: ${HEADSCALE_IP}
    ipv6: ""
  urls: []
  paths: []
  auto_update_enabled: false
disable_check_updates: true
node:
  expiry: 0
  ephemeral:
    inactivity_timeout: 70s
database:
  type: sqlite
  sqlite:
    path: ${d}/db.sqlite
    write_ahead_log: true
log:
  level: info
  format: text
policy:
  mode: file
  path: ""
dns:
  magic_dns: true
  base_domain: ${BASE_DOMAIN}
  override_local_dns: false
  nameservers:
    global: []
    split: {}
  search_domains: []
  extra_records: []
logtail:
  enabled: false
taildrop:
  enabled: false
`;
    fs.writeFileSync(this.config, cfg);
  }

  async start(): Promise<void> {
    if (this.proc?.running) return;
    if (!fs.existsSync(this.config)) this.writeConfig();
    this.proc = spawnInNs(this.node.ns, [HEADSCALE, '-c', this.config, 'serve'], {
      name: 'headscale',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.node.dir },
      logPath: path.join(this.node.dir, 'headscale.log'),
    });
    const proc = this.proc;
    await waitFor('headscale /health', async () => {
      if (!proc.running) throw new WaitAbort(`headscale exited: ${proc.tail()}`);
      const r = await run('ip', ['netns', 'exec', this.node.ns, 'curl', '-sf', '--max-time', '1', `${LOGIN_SERVER}/health`], { timeoutMs: 3000 });
      return r.code === 0 && fs.existsSync(path.join(this.node.dir, 'headscale.sock'));
    }, 20_000, 100);
  }

  async stop(): Promise<void> {
    await this.proc?.stop(5000);
  }

  /** Runs the headscale CLI (it talks to the server over its unix socket). */
  async cli(args: string[]): Promise<string> {
    return runOk(HEADSCALE, ['-c', this.config, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.node.dir }, timeoutMs: 20_000 });
  }

  async cliJSON(args: string[]): Promise<any> {
    const out = await this.cli([...args, '-o', 'json']);
    try {
      return JSON.parse(out);
    } catch {
      throw new Error(`headscale ${args.join(' ')}: not JSON: ${out.slice(0, 500)}`);
    }
  }

  async createUser(name: string): Promise<number> {
    const u = await this.cliJSON(['users', 'create', name]);
    this.userId = Number(u.id);
    return this.userId;
  }

  /** Every key this headscale handed out (teardown checks containerboot's output for them). */
  readonly keys = new Set<string>();

  /** Creates a pre-auth key (single-use unless `reusable`). The key is never logged. */
  async createKey(opts: KeyOptions = {}): Promise<string> {
    const args = ['preauthkeys', 'create', '-u', String(this.userId), '-e', opts.expiration ?? '1h'];
    if (opts.reusable) args.push('--reusable');
    if (opts.ephemeral) args.push('--ephemeral');
    if (opts.tags?.length) args.push('--tags', opts.tags.join(','));
    const k = await this.cliJSON(args);
    if (typeof k.key !== 'string' || k.key === '') throw new Error('headscale preauthkeys create: no key in the answer');
    this.keys.add(k.key);
    return k.key as string;
  }

  async nodes(): Promise<HeadscaleNode[]> {
    const list = (await this.cliJSON(['nodes', 'list'])) as any[] | null;
    return (list ?? []).map((n) => ({
      id: Number(n.id),
      name: n.name,
      givenName: n.given_name ?? n.givenName ?? n.name,
      ipAddresses: n.ip_addresses ?? n.ipAddresses ?? [],
      online: Boolean(n.online),
      approvedRoutes: n.approved_routes ?? n.approvedRoutes ?? [],
      availableRoutes: n.available_routes ?? n.availableRoutes ?? [],
      subnetRoutes: n.subnet_routes ?? n.subnetRoutes ?? [],
      raw: n,
    }));
  }

  async findNode(hostname: string): Promise<HeadscaleNode | undefined> {
    return (await this.nodes()).find((n) => n.name === hostname || n.givenName === hostname);
  }

  async approveRoutes(id: number, routes: string[]): Promise<void> {
    await this.cli(['nodes', 'approve-routes', '-i', String(id), '-r', routes.join(',')]);
  }

  async deleteNode(id: number): Promise<void> {
    await this.cli(['nodes', 'delete', '-i', String(id), '--force']);
  }
}

// ---------------------------------------------------------------------------------------------

export interface PeerOptions {
  hostname?: string;
  /** Kernel TUN (tailscale0 in the peer's namespace) instead of userspace networking. */
  kernel?: boolean;
  authKey?: string;
  upArgs?: string[];
  env?: Record<string, string>;
  /** Namespace to join on; default: a new namespace on the lan bridge. */
  node?: LabNode;
}

/** A plain tailscaled + `tailscale up`, as any other device on the tailnet. */
export class Peer {
  proc!: LabProcess;
  readonly socket: string;

  constructor(readonly lab: Lab, readonly node: LabNode, readonly hostname: string, readonly kernel: boolean, readonly env: Record<string, string>) {
    this.socket = path.join(node.dir, 'tailscaled.sock');
  }

  async startDaemon(): Promise<void> {
    const args = [TAILSCALED, `--socket=${this.socket}`, '--state=mem:', `--statedir=${this.node.dir}`, '--port=41641', '--no-logs-no-support'];
    if (!this.kernel) args.push('--tun=userspace-networking');
    this.proc = spawnInNs(this.node.ns, args, {
      name: `tailscaled(${this.hostname})`,
      env: this.env,
      logPath: path.join(this.node.dir, 'tailscaled.log'),
    });
    await waitFor(`${this.hostname} LocalAPI socket`, () => {
      if (!this.proc.running) throw new WaitAbort(`tailscaled exited: ${this.proc.tail()}`);
      return fs.existsSync(this.socket);
    }, 15_000, 50);
  }

  /** Runs the tailscale CLI against this peer's daemon, inside its namespace. */
  cli(args: string[], timeoutMs = 45_000) {
    return run('ip', ['netns', 'exec', this.node.ns, TAILSCALE, `--socket=${this.socket}`, ...args], { env: this.env, timeoutMs });
  }

  async up(authKey: string, extra: string[] = []): Promise<void> {
    const r = await this.cli(['up', `--login-server=${LOGIN_SERVER}`, `--auth-key=${authKey}`, `--hostname=${this.hostname}`, '--accept-dns=false', '--timeout=40s', ...extra]);
    if (r.code !== 0) throw new Error(`tailscale up on ${this.hostname} failed (${r.code}): ${r.stderr.replaceAll(authKey, '<authkey>').trim()}`);
    await this.waitRunning();
  }

  async status(): Promise<any> {
    return localapiJSON(this.socket, 'status');
  }

  async waitRunning(timeoutMs = 30_000): Promise<any> {
    return waitFor(`${this.hostname} Running`, async () => {
      const s = await this.status();
      return s.BackendState === 'Running' && (s.TailscaleIPs?.length ?? 0) > 0 ? s : undefined;
    }, timeoutMs, 100);
  }

  async ip4(): Promise<string> {
    const s = await this.status();
    const ip = (s.TailscaleIPs as string[] | undefined)?.find((a) => !a.includes(':'));
    if (!ip) throw new Error(`${this.hostname} has no tailnet IPv4 yet`);
    return ip;
  }

  /**
   * Waits until this peer's netmap lists a peer with `hostname` and knows its home DERP region.
   * A new node first appears without one; packets sent to it before then are lost and WireGuard
   * only retries its handshake after 5 s.
   */
  async waitForPeer(hostname: string, timeoutMs = 20_000): Promise<any> {
    return waitFor(`${this.hostname} to see peer ${hostname} with a home DERP`, async () => {
      const s = await this.status();
      const p = Object.values((s.Peer ?? {}) as Record<string, any>).find((x) => x.HostName === hostname || String(x.DNSName).startsWith(`${hostname}.`));
      return p?.Relay ? p : undefined;
    }, timeoutMs, 100);
  }

  async stop(): Promise<void> {
    await this.proc?.stop(5000);
  }
}

// ---------------------------------------------------------------------------------------------

export interface ContainerbootOptions {
  /** TS_* env for containerboot; the lab adds TS_SOCKET, TS_LOGIN_SERVER and its debug knobs unless given. */
  env: Record<string, string>;
  /** Don't set TS_LOGIN_SERVER (one-step mode, where the config file names the control server). */
  noLoginServer?: boolean;
  /**
   * Files placed in /run/secrets/ of containerboot's private mount namespace, Docker-secrets style
   * (name → content, mode 0400), e.g. { ts_authkey: key } with TS_AUTHKEY_FILE=/run/secrets/ts_authkey.
   */
  secrets?: Record<string, string>;
  name?: string;
  /** Mounted as /var/run/secrets/kubernetes.io/serviceaccount for containerboot and its tailscaled. */
  serviceAccountDir?: string;
  /**
   * Put the default TS_SOCKET in the node directory, which exists when containerboot starts (the
   * realistic layout, like the default /tmp/tailscaled.sock; containerboot then waits for the
   * socket with a directory watch). false: `<node dir>/sock/`, removed before each start, so
   * containerboot polls for it instead. Default true; CBL_SOCKET_DIR_EXISTS=0 flips the default.
   * (The fresh-directory layout was the work-around for COMPATIBILITY.md L4 until e35bce6.)
   */
  socketDirExists?: boolean;
  /**
   * Program to run instead of bin/containerboot (bench/compare-upstream runs upstream's build here).
   * Upstream has no TS_LOGIN_SERVER, so with `binary` the control server goes into TS_EXTRA_ARGS
   * instead (`--login-server=…` first); `loginServerInExtraArgs` does the same for our side, so
   * both get the same environment.
   */
  binary?: string;
  loginServerInExtraArgs?: boolean;
}

/** One containerboot run in a pod namespace. */
export class Containerboot {
  constructor(readonly lab: Lab, readonly node: LabNode, readonly proc: LabProcess, readonly socket: string, readonly env: Record<string, string>, readonly execAt: number) {}

  get pid(): number {
    return this.proc.pid;
  }

  /** Resolves when containerboot's tailscaled reports Running (polled over the LocalAPI). */
  async waitRunning(timeoutMs = 45_000): Promise<any> {
    return waitFor(`containerboot in ${this.node.role} to reach Running`, async () => {
      if (!this.proc.running) throw new WaitAbort(`containerboot exited (${this.proc.exitInfo?.code ?? this.proc.exitInfo?.signal}) before Running; output tail:\n${this.redact(this.proc.tail(60))}`);
      if (!fs.existsSync(this.socket)) return undefined;
      const s = await localapiJSON(this.socket, 'status');
      return s.BackendState === 'Running' && (s.TailscaleIPs?.length ?? 0) > 0 ? s : undefined;
    }, timeoutMs, 100);
  }

  waitStartupComplete(timeoutMs = 45_000): Promise<RegExpMatchArray> {
    return this.proc.waitForOutput(/Startup complete, waiting for shutdown signal/, timeoutMs);
  }

  async status(): Promise<any> {
    return localapiJSON(this.socket, 'status');
  }

  async prefs(): Promise<any> {
    return localapiJSON(this.socket, 'prefs');
  }

  async ip4(): Promise<string> {
    const s = await this.status();
    const ip = (s.TailscaleIPs as string[] | undefined)?.find((a) => !a.includes(':'));
    if (!ip) throw new Error('containerboot node has no tailnet IPv4');
    return ip;
  }

  /** PIDs of processes named `comm` in the pod namespace (e.g. the tailscaled containerboot started). */
  pidsOf(comm: string): number[] {
    return nsPidsSync(this.node.ns).filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    });
  }

  /** Output with auth keys replaced (safe to print in assertion messages). */
  output(): string {
    return this.redact(this.proc.output());
  }

  redact(s: string): string {
    for (const k of [this.env.TS_AUTHKEY, this.env.TS_AUTH_KEY]) if (k) s = s.replaceAll(k, '<authkey>');
    return s;
  }

  async stop(graceMs = 15_000) {
    return this.proc.stop(graceMs);
  }
}

// ---------------------------------------------------------------------------------------------

export class Lab {
  readonly namespaces: string[] = [];
  readonly processes: LabProcess[] = [];
  readonly peers: Peer[] = [];
  readonly containerboots: Containerboot[] = [];
  headscale!: Headscale;
  private nextLan = 10;
  private nextCluster = 10;
  private nextVeth = 0;
  private torn = false;
  private readonly swNs: string;

  private constructor(readonly id: string, readonly dir: string, readonly log: Logger) {
    this.swNs = `${id}-sw`;
  }

  /**
   * Checks prerequisites (throws LabUnavailableError naming what is missing), builds the bundle
   * if stale, creates the switch namespace with its bridges, starts headscale and creates user `lab`.
   */
  static async start(opts: { log?: Logger; name?: string; signalHandlers?: boolean } = {}): Promise<Lab> {
    assertPrerequisites();
    ensureBundle();
    installExitHandler(opts.signalHandlers ?? true);
    reapStaleLabs();
    let id = '';
    const existing = (await runOk('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]);
    do id = `cbl${Math.random().toString(36).slice(2, 6)}`;
    while (existing.some((n) => n.startsWith(`${id}-`)));
    const dir = path.join(LAB_ROOT, `${id}${opts.name ? `-${opts.name.replace(/[^a-z0-9]+/gi, '-')}` : ''}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const lab = new Lab(id, dir, opts.log ?? (() => {}));
    activeLabs.add(lab);
    try {
      await lab.setupSwitch();
      const hs = await lab.addNode('hs', { lan: true, lanIP: HEADSCALE_IP });
      lab.headscale = new Headscale(lab, hs);
      const t0 = Date.now();
      await lab.headscale.start();
      await lab.headscale.createUser('lab');
      lab.log(`headscale ${LOGIN_SERVER} ready in ${Date.now() - t0} ms (user "lab", embedded DERP region 999 "lab")`);
    } catch (e) {
      await lab.teardown();
      throw e;
    }
    return lab;
  }

  private writeRegistry(): void {
    fs.mkdirSync(REGISTRY, { recursive: true });
    fs.writeFileSync(path.join(REGISTRY, this.id), JSON.stringify({ owner: process.pid, namespaces: this.namespaces, dir: this.dir }));
  }

  private async ip(args: string[]): Promise<void> {
    await runOk('ip', args);
  }

  private async createNs(ns: string): Promise<void> {
    this.namespaces.push(ns);
    this.writeRegistry();
    await this.ip(['netns', 'add', ns]);
    // Safety net: if anything in this namespace ever rewrites resolv.conf, it rewrites this copy.
    fs.mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${ns}/resolv.conf`, '# containerboot lab namespace: no DNS server\n');
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private async setupSwitch(): Promise<void> {
    await this.createNs(this.swNs);
    for (const br of ['cblbr0', 'cblbr1']) {
      await this.ip(['-n', this.swNs, 'link', 'add', br, 'type', 'bridge']);
      await this.ip(['-n', this.swNs, 'link', 'set', br, 'up']);
    }
  }

  nsName(role: string): string {
    return `${this.id}-${role}`;
  }

  /** Creates namespace `<id>-<role>` with a lan and/or cluster interface; addresses are allocated sequentially. */
  async addNode(role: string, opts: { lan?: boolean; cluster?: boolean; lanIP?: string; clusterIP?: string; ipv6?: boolean } = {}): Promise<LabNode> {
    const ns = this.nsName(role);
    const dir = path.join(this.dir, role);
    fs.mkdirSync(dir, { recursive: true });
    await this.createNs(ns);
    const node: LabNode = { role, ns, dir };
    const link = async (bridge: string, ifname: string, addr: string) => {
      const sw = `cblv${this.nextVeth++}`;
      await this.ip(['-n', this.swNs, 'link', 'add', sw, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns]);
      await this.ip(['-n', this.swNs, 'link', 'set', sw, 'master', bridge, 'up']);
      await this.ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', ifname]);
      await this.ip(['-n', ns, 'link', 'set', ifname, 'up']);
    };
    if (opts.lan) {
      node.lanIP = opts.lanIP ?? `${LAN_PREFIX}.${this.nextLan++}`;
      await link('cblbr0', 'cbl0', node.lanIP);
    }
    if (opts.cluster) {
      node.clusterIP = opts.clusterIP ?? `${CLUSTER_PREFIX}.${this.nextCluster++}`;
      await link('cblbr1', 'cbl1', node.clusterIP);
      if (opts.ipv6) {
        // An IPv6 address on the cluster link as well (ULA, no DAD delay), same host number.
        node.clusterIP6 = `${CLUSTER6_PREFIX}::${node.clusterIP.split('.').pop()}`;
        await this.ip(['-n', ns, 'addr', 'add', `${node.clusterIP6}/64`, 'dev', 'cbl1', 'nodad']);
      }
    }
    return node;
  }

  /** Adds a route inside a lab namespace (never a default route). */
  async addRoute(node: LabNode, prefix: string, via: string): Promise<void> {
    if (prefix === 'default' || prefix.endsWith('/0')) throw new Error('the lab never installs a default route');
    await this.ip(['-n', node.ns, 'route', 'add', prefix, 'via', via]);
  }

  /** Runs a command inside a lab namespace. */
  exec(node: LabNode, argv: string[], timeoutMs = 30_000) {
    return run('ip', ['netns', 'exec', node.ns, ...argv], { timeoutMs });
  }

  /** HTTP GET from inside `node` with curl; returns status and body (status 0 = no connection). */
  async curl(node: LabNode, url: string, timeoutS = 5): Promise<{ status: number; body: string; error: string }> {
    const r = await this.exec(node, ['curl', '-sS', '--noproxy', '*', '--max-time', String(timeoutS), '-o', '-', '-w', '\n%{http_code}', url], (timeoutS + 5) * 1000);
    const i = r.stdout.lastIndexOf('\n');
    const status = Number(r.stdout.slice(i + 1)) || 0;
    return { status, body: r.stdout.slice(0, Math.max(i, 0)), error: r.stderr.trim() };
  }

  /** Starts the lab's tiny HTTP server (test/lab/web-server.mjs) in `node`, answering with its name and the client address. */
  async startWebServer(node: LabNode, name: string, port = 8080, bind = '0.0.0.0'): Promise<LabProcess> {
    const p = spawnInNs(node.ns, [NODE24, WEB_SERVER, String(port), name, bind], {
      name: `web(${name})`,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      logPath: path.join(node.dir, `web-${name}.log`),
    });
    this.processes.push(p);
    await p.waitForOutput(/listening/, 10_000);
    return p;
  }

  createKey(opts: KeyOptions = {}): Promise<string> {
    return this.headscale.createKey(opts);
  }

  /** Starts a plain tailscaled in its own namespace (on the lan) and logs it in with a fresh key. */
  async startPeer(role: string, opts: PeerOptions = {}): Promise<Peer> {
    const node = opts.node ?? (await this.addNode(role, { lan: true }));
    const env = { ...labTailscaleEnv(node.dir), TS_DEBUG_FIREWALL_MODE: 'nftables', ...opts.env };
    const peer = new Peer(this, node, opts.hostname ?? role, Boolean(opts.kernel), env);
    this.peers.push(peer);
    await peer.startDaemon();
    this.processes.push(peer.proc);
    const key = opts.authKey ?? (await this.createKey({ reusable: false }));
    await peer.up(key, opts.upArgs ?? []);
    return peer;
  }

  /**
   * Starts bin/containerboot in `node` with `opts.env`. The lab fills in TS_SOCKET (under the
   * node's directory), TS_LOGIN_SERVER (the lab's headscale), `--no-logs-no-support` for tailscaled,
   * and the lab's tailscaled knobs; the caller's values win.
   */
  startContainerboot(node: LabNode, opts: ContainerbootOptions): Containerboot {
    const existingDir = opts.socketDirExists ?? process.env.CBL_SOCKET_DIR_EXISTS !== '0';
    let socket = opts.env.TS_SOCKET;
    if (socket === undefined) {
      const sockDir = existingDir ? node.dir : path.join(node.dir, 'sock');
      if (!existingDir) fs.rmSync(sockDir, { recursive: true, force: true });
      socket = path.join(sockDir, 'tailscaled.sock');
    }
    const env: Record<string, string> = {
      ...labTailscaleEnv(node.dir),
      TS_TAILSCALED_EXTRA_ARGS: '--no-logs-no-support',
      ...(opts.noLoginServer || opts.binary !== undefined || opts.loginServerInExtraArgs ? {} : { TS_LOGIN_SERVER: LOGIN_SERVER }),
      ...opts.env,
      ...(!opts.noLoginServer && (opts.binary !== undefined || opts.loginServerInExtraArgs)
        ? { TS_EXTRA_ARGS: [`--login-server=${LOGIN_SERVER}`, opts.env.TS_EXTRA_ARGS ?? ''].join(' ').trim() } : {}),
      TS_SOCKET: socket,
    };
    let secretsDir: string | undefined;
    if (opts.secrets) {
      secretsDir = fs.mkdtempSync(path.join(node.dir, 'secrets-'));
      for (const [name, content] of Object.entries(opts.secrets)) fs.writeFileSync(path.join(secretsDir, name), content, { mode: 0o400 });
    }
    // A stale socket from an earlier run would satisfy containerboot's socket wait immediately.
    fs.rmSync(socket, { force: true });
    const name = opts.name ?? `containerboot(${node.role})`;
    const execAt = Date.now();
    const proc = spawnInNs(node.ns, [opts.binary ?? CONTAINERBOOT], { name, env, logPath: path.join(node.dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.log`), serviceAccountDir: opts.serviceAccountDir, secretsDir });
    this.processes.push(proc);
    const cb = new Containerboot(this, node, proc, socket, env, execAt);
    this.containerboots.push(cb);
    return cb;
  }

  localapi(socket: string, method: string, p: string, body?: unknown) {
    return localapi(socket, method, p, body);
  }

  /**
   * Ends everything by PID and namespace; safe to call twice; keeps logs in <repo>/.lab/logs/<id>.
   * Then fails if any containerboot run (its own log lines and those of the tailscaled and CLI it
   * started) printed one of the lab's auth keys.
   */
  async teardown(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    await Promise.all(this.containerboots.map((c) => c.proc.stop(10_000).catch(() => undefined)));
    await Promise.all(this.processes.map((p) => p.stop(3000).catch(() => undefined)));
    this.finish();
    const keys = [...(this.headscale?.keys ?? [])];
    const leaks = this.containerboots.filter((c) => keys.some((k) => c.proc.output().includes(k))).map((c) => `${c.proc.name} (log ${c.proc.logPath})`);
    if (leaks.length) throw new Error(`auth key printed in the output of: ${leaks.join(', ')}`);
  }

  /** Synchronous variant for process exit handlers. */
  teardownSync(): void {
    if (this.torn) return;
    this.torn = true;
    for (const p of this.processes) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    this.finish();
  }

  private finish(): void {
    destroyNamespacesSync([...this.namespaces].reverse());
    try {
      const keep = path.join(REPO_ROOT, '.lab', 'logs', path.basename(this.dir));
      const copyLogs = (from: string, to: string) => {
        for (const e of fs.readdirSync(from, { withFileTypes: true })) {
          const p = path.join(from, e.name);
          if (e.isDirectory()) copyLogs(p, path.join(to, e.name));
          else if (e.name.endsWith('.log')) {
            fs.mkdirSync(to, { recursive: true });
            fs.copyFileSync(p, path.join(to, e.name));
          }
        }
      };
      copyLogs(this.dir, keep);
      // Keep the logs of the 60 most recent labs.
      const root = path.dirname(keep);
      const dirs = fs.readdirSync(root).map((d) => ({ d, t: fs.statSync(path.join(root, d)).mtimeMs })).sort((a, b) => b.t - a.t);
      for (const { d } of dirs.slice(60)) fs.rmSync(path.join(root, d), { recursive: true, force: true });
    } catch {
      /* logs are best effort */
    }
    if (!process.env.CBL_KEEP_LAB) fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(path.join(REGISTRY, this.id), { force: true });
    activeLabs.delete(this);
  }
}

export { sleep, waitFor, WaitAbort };
