// Pure planner for the firewall checks: which backends work, which one boot (and auto) would
// pick, rules already installed in the other backend (user-pains #4), IPv6 NAT.
import type { BackendFact, BackendName, FirewallFacts } from './facts.js';
import { fail, ok, warn, type Line } from './lines.js';
import type { DoctorView } from './view.js';

/** The backend boot would write through: nftables, or iptables in the variant `iptables` is. */
export function chosenBackend(f: FirewallFacts): BackendName | undefined {
  if (f.decision?.mode === 'nftables') return 'nftables';
  if (f.decision?.mode !== 'iptables') return undefined;
  if (f.iptablesVariant === 'legacy') return 'iptables-legacy';
  if (f.iptablesVariant === 'nft') return 'iptables-nft';
  return undefined;
}

const byName = (f: FirewallFacts, n: BackendName): BackendFact | undefined => f.backends.find((b) => b.name === n);

function backendLine(b: BackendFact): Line {
  const check = `firewall.${b.name}`;
  if (b.usable) return ok(check, `works (${b.rules} rule${b.rules === 1 ? '' : 's'} installed)`);
  return warn(check, `does not work here: ${b.error ?? 'unknown error'}`);
}

function modeLine(view: DoctorView, f: FirewallFacts, needed: boolean): Line {
  const tail = needed ? '' : ' (no firewall is needed by this configuration)';
  if (!f.decision) {
    const text = `cannot decide the mode: ${f.decisionError ?? 'unknown error'}${tail}`;
    return needed ? fail('firewall.mode', text, 'set TS_DEBUG_FIREWALL_MODE=iptables or nftables to a backend that works here') : warn('firewall.mode', text);
  }
  const chosen = chosenBackend(f);
  const via = f.decision.mode === 'iptables' ? ` through ${chosen ?? 'iptables'}` : '';
  const auto = f.auto && f.auto !== f.decision ? `; auto would pick ${f.auto.mode} (${f.auto.reason})` : '';
  const text = `boot would use ${f.decision.mode}${via}: ${f.decision.reason}${auto}${tail}`;
  const works = f.decision.mode === 'nftables'
    ? byName(f, 'nftables')?.usable === true
    : f.iptablesVariant !== undefined && (chosen === undefined || byName(f, chosen)?.usable === true);
  const working = f.backends.filter((b) => b.usable).map((b) => b.name);
  if (!works || f.missingTools.length > 0) {
    const why = !works ? 'that backend does not work here' : `${f.missingTools.join(', ')} not on PATH`;
    const fix = working.length
      ? `set TS_DEBUG_FIREWALL_MODE=${working.includes('nftables') ? 'nftables' : 'iptables'} (working here: ${working.join(', ')})${f.missingTools.length ? ` or install ${f.missingTools.join(', ')}` : ''}`
      : 'install iptables (legacy or nft) or give the container NET_ADMIN so nftables works';
    return needed ? fail('firewall.mode', `${text}; ${why}`, fix) : warn('firewall.mode', `${text}; ${why}`, fix);
  }
  return ok('firewall.mode', text);
}

/** Rules already in the kernel side boot would not write to (upstream #17854, #5621). */
export function mismatchLine(f: FirewallFacts): Line {
  const chosen = chosenBackend(f);
  const legacy = byName(f, 'iptables-legacy');
  const nft = byName(f, 'nftables');
  const nftRules = nft?.usable ? nft.rules : (byName(f, 'iptables-nft')?.rules ?? 0);
  if (chosen === undefined) return ok('firewall.mismatch', 'not checked: the backend boot would use is not known');
  if (chosen === 'iptables-legacy' && nftRules > 0) {
    return warn('firewall.mismatch',
      `the host has ${nftRules} nf_tables rule(s) (nft / iptables-nft) but boot would write with iptables-legacy: both run, but neither tool shows the other's rules (upstream #17854, #5621)`,
      'set TS_DEBUG_FIREWALL_MODE=nftables, or make `iptables` iptables-nft (update-alternatives --set iptables /usr/sbin/iptables-nft)');
  }
  const other = chosen === 'iptables-legacy' ? (nft?.usable ? nft : byName(f, 'iptables-nft')) : legacy;
  if (other && !other.usable && !other.notInstalled) {
    return warn('firewall.mismatch', `cannot list ${other.name} here (${other.error}), so rules there cannot be ruled out`);
  }
  if (chosen !== 'iptables-legacy' && (legacy?.rules ?? 0) > 0) {
    return warn('firewall.mismatch',
      `the host has ${legacy!.rules} iptables-legacy rule(s) but boot would write through nf_tables (${chosen}): both run, but neither tool shows the other's rules and legacy policies still drop traffic (upstream #17854, #5621)`,
      'set TS_DEBUG_FIREWALL_MODE=iptables with `iptables` pointing at iptables-legacy (update-alternatives --set iptables /usr/sbin/iptables-legacy), or move the host\'s rules to nftables');
  }
  const unseen = other?.notInstalled ? ` (${other.name} is not installed here, so its rules were not looked at)` : '';
  return ok('firewall.mismatch', `no rules in a backend other than ${chosen}${unseen}`);
}

function ipv6Line(view: DoctorView, f: FirewallFacts, needed: boolean): Line {
  if (f.ipv6NAT) return ok('firewall.ipv6', `IPv6 NAT works with ${f.decision?.mode ?? 'the chosen mode'}`);
  const why = f.ipv6Usable ? `IPv6 works but ${f.decision?.mode === 'nftables' ? 'nftables' : 'ip6tables'} has no NAT` : 'IPv6 is disabled or has no policy routing';
  const v6Needed = needed && view.needs?.forwarding.v6 === true;
  const text = `no IPv6 NAT: ${why}; IPv6 targets get no rules`;
  return v6Needed ? fail('firewall.ipv6', text, 'enable IPv6 (net.ipv6.conf.all.disable_ipv6=0) and the ip6table_nat module, or use IPv4 targets') : warn('firewall.ipv6', text);
}

export function firewallLines(view: DoctorView, f: FirewallFacts): Line[] {
  if (f.fake) return [ok('firewall', 'TS_TEST_FAKE_NETFILTER=true: the in-process fake, no kernel backend is used')];
  // Unknown needs (invalid configuration) in kernel mode count as needed.
  const needed = !view.userspace && (view.needs?.firewall ?? true);
  return [
    ...f.backends.map(backendLine),
    modeLine(view, f, needed),
    mismatchLine(f),
    ipv6Line(view, f, needed),
  ];
}
