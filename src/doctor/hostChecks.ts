// Pure planners for the host checks: configuration, tun device, capabilities, forwarding
// sysctls, socket directory, tailscaled/tailscale on PATH.
import type { BinaryFact, HostFacts, SysctlFact } from './facts.js';
import { fail, ok, warn, type Line } from './lines.js';
import type { DoctorView } from './view.js';

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_MKNOD = 27;

const hasCap = (eff: bigint, bit: number): boolean => ((eff >> BigInt(bit)) & 1n) === 1n;

/** `CapEff:\t0000003fffffffff` from /proc/self/status. */
export function parseCapEff(status: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

const TUN_FIX = 'give the container the tun device: `docker run --device /dev/net/tun`; in Kubernetes run the container ' +
  'privileged or use a tun device plugin (runc ≥ 1.2 no longer allows it by default)';

export function configLines(view: DoctorView, errors: string[]): Line[] {
  if (errors.length === 0) {
    const where = view.kubeSecret !== '' ? `, state Secret "${view.kubeSecret}"` : '';
    return [ok('config', `valid (${view.userspace ? 'userspace' : 'kernel'} networking${where})`)];
  }
  return errors.map((e) => fail('config', e, 'correct the variable named in the message and run the doctor again'));
}

export function tunLine(view: DoctorView, f: HostFacts): Line {
  const p = f.tunPath;
  if (view.userspace) return ok('tun', 'not needed: userspace networking (TS_USERSPACE is not false)');
  const t = f.tun;
  switch (t.kind) {
    case 'char':
      if (t.major !== 10 || t.minor !== 200) {
        return fail('tun', `${p} is character device ${t.major}:${t.minor}, not the tun device (10:200)`, TUN_FIX);
      }
      if (t.openError) return fail('tun', `${p} exists but cannot be opened read-write: ${t.openError}`, TUN_FIX);
      return ok('tun', `${p} is the tun device (10:200) and opens read-write`);
    case 'missing':
      if (f.capEff !== undefined && hasCap(f.capEff, CAP_MKNOD)) {
        return warn('tun', `${p} is missing; boot will create it (CAP_MKNOD is granted), but the device cgroup may still refuse to open it`, TUN_FIX);
      }
      return fail('tun', `${p} is missing and CAP_MKNOD is not granted, so boot cannot create it`, TUN_FIX);
    case 'other':
      return fail('tun', `${p} is a ${t.what}, not a character device`, TUN_FIX);
    case 'error':
      return fail('tun', `cannot inspect ${p}: ${t.error}`, TUN_FIX);
  }
}

export function capabilityLine(view: DoctorView, f: HostFacts): Line {
  if (f.capEff === undefined) return warn('capabilities', 'cannot read CapEff from /proc/self/status');
  const hex = f.capEff.toString(16).padStart(16, '0');
  const missing = [[CAP_NET_ADMIN, 'NET_ADMIN'], [CAP_NET_RAW, 'NET_RAW']].filter(([b]) => !hasCap(f.capEff!, b as number)).map(([, n]) => n);
  if (view.userspace) {
    return ok('capabilities', `not needed: userspace networking (CapEff ${hex}${missing.length ? `, without ${missing.join(', ')}` : ''})`);
  }
  if (missing.length === 0) return ok('capabilities', `NET_ADMIN and NET_RAW are effective (CapEff ${hex})`);
  const caps = missing.map((c) => `--cap-add=${c}`).join(' ');
  const k8s = missing.map((c) => `"${c}"`).join(', ');
  return fail('capabilities', `kernel mode needs ${missing.join(' and ')}, not in CapEff ${hex}`,
    `\`docker run ${caps}\`; in Kubernetes securityContext.capabilities.add: [${k8s}]`);
}

function sysctlFix(view: DoctorView, s: SysctlFact): string {
  return view.inKubernetes
    ? `set ${s.name}=1 in a privileged initContainer (\`sysctl -w ${s.name}=1\`), or run the container privileged`
    : `\`docker run --sysctl ${s.name}=1\`, or run the container privileged`;
}

export function forwardingLines(view: DoctorView, f: HostFacts): Line[] {
  if (view.userspace) return [ok('forwarding', 'not needed: userspace networking leaves the sysctls alone')];
  if (view.forwardingError) {
    return [fail('forwarding', `boot cannot tell which families to forward: ${view.forwardingError}`, 'correct TS_DEST_IP, TS_TAILNET_TARGET_IP or TS_ROUTES')];
  }
  const netAdmin = f.capEff !== undefined && hasCap(f.capEff, CAP_NET_ADMIN);
  return f.sysctls.map((fact) => {
    // access(W_OK) sees read-only mounts and file modes, but the kernel's ip_forward handler also
    // refuses writes without CAP_NET_ADMIN (net.ipv6's does not): seen in a lab namespace.
    const s = fact.family === 4 && fact.writeError === undefined && f.capEff !== undefined && !netAdmin
      ? { ...fact, writeError: 'the kernel refuses ip_forward writes without CAP_NET_ADMIN' }
      : fact;
    const fam = s.family === 4 ? 'v4' : 'v6';
    // Unknown needs (invalid configuration) are reported, but not as failures.
    const need: boolean | undefined = view.needs ? view.needs.forwarding[fam] : undefined;
    const why = need === false ? ' (not needed by this configuration)' : '';
    if (s.readError !== undefined) {
      const text = `cannot read ${s.name} (${s.path}): ${s.readError}${why}`;
      if (need) return fail('forwarding', text, s.family === 6 ? 'enable IPv6 in the container, or drop the IPv6 targets/routes' : sysctlFix(view, s));
      return need === undefined ? warn('forwarding', text) : ok('forwarding', text);
    }
    if (s.value === '1') return ok('forwarding', `${s.name} = 1${why}`);
    if (s.writeError === undefined) return ok('forwarding', `${s.name} = ${s.value}, writable: boot sets it to 1 when needed${why}`);
    const text = `${s.name} = ${s.value} and not writable (${s.writeError})${why}`;
    if (need) return fail('forwarding', text, sysctlFix(view, s));
    return need === undefined ? warn('forwarding', text, sysctlFix(view, s)) : ok('forwarding', text);
  });
}

export function socketLine(f: HostFacts): Line {
  const s = f.socket;
  const fix = `mount a writable volume at ${s.dir} or point TS_SOCKET at a writable directory`;
  if (s.writeError !== undefined) {
    return fail('socket', s.dirExists ? `${s.dir} (for ${s.path}) is not writable: ${s.writeError}` : `${s.dir} does not exist and cannot be created: ${s.writeError}`, fix);
  }
  if (!s.dirExists) return ok('socket', `${s.dir} does not exist yet; tailscaled creates it (its parent is writable)`);
  if (s.socketExists) return warn('socket', `${s.path} already exists: a stale socket (replaced at start) or another tailscaled using it`);
  return ok('socket', `${s.dir} is writable for ${s.path}`);
}

export function binaryLine(b: BinaryFact, pairedVersion: string): Line {
  if (b.path === undefined) {
    return fail(b.name, 'not found on PATH', `install ${b.name} v${pairedVersion} in a directory on PATH (containerboot runs it through PATH, as upstream)`);
  }
  if (b.error !== undefined || b.version === undefined) {
    return fail(b.name, `${b.path} does not report its version: ${b.error ?? 'no output'}`, `replace ${b.path} with a working ${b.name} v${pairedVersion}`);
  }
  if (b.version !== pairedVersion && !b.version.startsWith(`${pairedVersion}-`)) {
    return warn(b.name, `${b.path} is ${b.version}; containerboot is built to pair with ${pairedVersion}`);
  }
  return ok(b.name, `${b.path} ${b.version}`);
}

export function hostLines(view: DoctorView, f: HostFacts, pairedVersion: string): Line[] {
  return [
    ...configLines(view, f.configErrors),
    tunLine(view, f),
    capabilityLine(view, f),
    ...forwardingLines(view, f),
    socketLine(f),
    ...f.binaries.map((b) => binaryLine(b, pairedVersion)),
  ];
}
