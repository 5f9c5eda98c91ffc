// IPv6 usability (upstream CheckIPv6) and iptables IPv6 NAT availability (HasIPV6NAT), §1.7.
import { existsSync, readFileSync } from 'node:fs';
import { NotFoundError, type Runner } from './spawn.js';

function readTrim(path: string): string | undefined {
  try { return readFileSync(path, 'utf8').trim(); } catch { return undefined; }
}

/** CheckIPv6: sysctls allow v6 and policy routing works (`ip -6 rule` lists a rule, or one can be added). */
export async function checkIPv6(run: Runner, proc = '/proc'): Promise<boolean> {
  if (!existsSync(`${proc}/sys/net/ipv6`)) return false;
  if (readTrim(`${proc}/sys/net/ipv6/conf/all/disable_ipv6`) !== '0') return false;
  const policy = readTrim(`${proc}/sys/net/ipv6/conf/all/disable_policy`);
  if (policy !== undefined && policy !== '0') return false;
  try {
    const r = await run('ip', ['-6', 'rule', 'show']);
    if (r.code === 0 && r.stdout.trim() !== '') return true;
    const add = await run('ip', ['-6', 'rule', 'add', 'pref', '1234', 'fwmark', '0x80000', 'table', '52']);
    if (add.code !== 0) return false;
    await run('ip', ['-6', 'rule', 'del', 'pref', '1234', 'fwmark', '0x80000', 'table', '52']);
    return true;
  } catch (err) {
    // Upstream asks netlink directly; without an `ip` program we trust the sysctls above.
    return err instanceof NotFoundError;
  }
}

/** iptables mode: v6 usable and ip6tables can list the nat table (or the nat module is there/loadable). */
export async function iptablesHasIPv6NAT(run: Runner, v6: boolean, proc = '/proc'): Promise<boolean> {
  if (!v6) return false;
  try {
    const r = await run('ip6tables', ['-t', 'nat', '-S']);
    if (r.code === 0) return true;
  } catch {
    return false; // ip6tables not in PATH
  }
  if ((readTrim(`${proc}/net/ip6_tables_names`) ?? '').split('\n').includes('nat')) return true;
  try {
    return (await run('modprobe', ['ip6table_nat'])).code === 0;
  } catch {
    return false;
  }
}
