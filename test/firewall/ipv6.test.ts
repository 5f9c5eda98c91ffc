import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkIPv6, iptablesHasIPv6NAT } from '../../src/firewall/ipv6.js';
import { NotFoundError, type Runner } from '../../src/firewall/spawn.js';

let dirs: string[] = [];
afterEach(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); dirs = []; });

function proc(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cbfw-proc-'));
  dirs.push(d);
  mkdirSync(path.join(d, 'sys/net/ipv6/conf/all'), { recursive: true });
  mkdirSync(path.join(d, 'net'), { recursive: true });
  for (const [f, v] of Object.entries(files)) writeFileSync(path.join(d, f), v);
  return d;
}

const runner = (answers: Record<string, number | 'missing'>, calls: string[] = []): Runner => async (cmd, args) => {
  const k = `${cmd} ${args.join(' ')}`;
  calls.push(k);
  const a = answers[k] ?? answers[cmd];
  if (a === 'missing' || a === undefined) throw new NotFoundError(`exec: "${cmd}": executable file not found in $PATH`);
  return { code: a, stdout: a === 0 && k === 'ip -6 rule show' ? '0: from all lookup local\n' : '', stderr: '' };
};

describe('CheckIPv6 (netfilter.md §1.7)', () => {
  it('needs IPv6 enabled, policy allowed, and policy routing', async () => {
    const ok = proc({ 'sys/net/ipv6/conf/all/disable_ipv6': '0\n' });
    expect(await checkIPv6(runner({ 'ip -6 rule show': 0 }), ok)).toBe(true);
    expect(await checkIPv6(runner({ 'ip -6 rule show': 0 }), proc({ 'sys/net/ipv6/conf/all/disable_ipv6': '1\n' }))).toBe(false);
    expect(await checkIPv6(runner({ 'ip -6 rule show': 0 }), proc({ 'sys/net/ipv6/conf/all/disable_ipv6': '0', 'sys/net/ipv6/conf/all/disable_policy': '1' }))).toBe(false);
    expect(await checkIPv6(runner({}), '/nonexistent')).toBe(false);
    // No `ip` program: upstream would ask netlink; we trust the sysctls.
    expect(await checkIPv6(runner({ ip: 'missing' }), ok)).toBe(true);
  });

  it('adds and deletes a test rule when no rule is listed', async () => {
    const calls: string[] = [];
    const dir = proc({ 'sys/net/ipv6/conf/all/disable_ipv6': '0' });
    const run: Runner = async (cmd, args) => { calls.push(`${cmd} ${args.join(' ')}`); return { code: 0, stdout: '', stderr: '' }; };
    expect(await checkIPv6(run, dir)).toBe(true);
    expect(calls).toEqual(['ip -6 rule show', 'ip -6 rule add pref 1234 fwmark 0x80000 table 52', 'ip -6 rule del pref 1234 fwmark 0x80000 table 52']);
  });
});

describe('iptables HasIPV6NAT', () => {
  it('ip6tables -t nat -S, then /proc/net/ip6_tables_names, then modprobe', async () => {
    const p = proc({ 'net/ip6_tables_names': 'filter\n' });
    expect(await iptablesHasIPv6NAT(runner({ 'ip6tables -t nat -S': 0 }), true, p)).toBe(true);
    expect(await iptablesHasIPv6NAT(runner({ 'ip6tables -t nat -S': 0 }), false, p)).toBe(false);
    expect(await iptablesHasIPv6NAT(runner({ ip6tables: 'missing' }), true, p)).toBe(false);
    expect(await iptablesHasIPv6NAT(runner({ 'ip6tables -t nat -S': 1, modprobe: 1 }), true, p)).toBe(false);
    expect(await iptablesHasIPv6NAT(runner({ 'ip6tables -t nat -S': 1, modprobe: 0 }), true, p)).toBe(true);
    expect(await iptablesHasIPv6NAT(runner({ 'ip6tables -t nat -S': 1, modprobe: 1 }), true, proc({ 'net/ip6_tables_names': 'filter\nnat\n' }))).toBe(true);
  });
});
