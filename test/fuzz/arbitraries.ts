// Shared inputs and settings for the property-based (fuzz) tests. CI runs a bounded, seeded number
// of cases; `bash scripts/fuzz.sh` raises FUZZ_RUNS and picks a fresh seed (printed, so any failure
// is reproducible with FUZZ_SEED=<seed>).
import fc from 'fast-check';

const runsScale = Number(process.env.FUZZ_RUNS_SCALE ?? '1');
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? '20261202');

/** fast-check parameters: `n` runs in CI, n × FUZZ_RUNS_SCALE from the script. */
export function fuzzParams(n: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(n * runsScale)), endOnFailure: true };
}

/** Every environment variable containerboot reads (README table, src/settings). */
export const ENV_VARS = [
  'TS_AUTHKEY', 'TS_AUTH_KEY', 'TS_CLIENT_ID', 'TS_CLIENT_SECRET', 'TS_ID_TOKEN', 'TS_AUDIENCE', 'TS_HOSTNAME',
  'TS_ROUTES', 'TS_EXTRA_ARGS', 'TS_TAILSCALED_EXTRA_ARGS', 'TS_USERSPACE', 'TS_STATE_DIR', 'TS_ACCEPT_DNS',
  'TS_KUBE_SECRET', 'TS_SOCKS5_SERVER', 'TS_OUTBOUND_HTTP_PROXY_LISTEN', 'TS_SOCKET', 'TS_AUTH_ONCE',
  'TS_BOOT_TIMEOUT', 'TS_DEST_IP', 'TS_EXPERIMENTAL_DEST_DNS_NAME', 'TS_TAILNET_TARGET_IP', 'TS_TAILNET_TARGET_FQDN',
  'EXPERIMENTAL_ALLOW_PROXYING_CLUSTER_TRAFFIC_VIA_INGRESS', 'TS_SERVE_CONFIG', 'TS_EXPERIMENTAL_VERSIONED_CONFIG_DIR',
  'TS_EGRESS_PROXIES_CONFIG_PATH', 'TS_INGRESS_PROXIES_CONFIG_PATH', 'TS_LOCAL_ADDR_PORT', 'TS_ENABLE_HEALTH_CHECK',
  'TS_ENABLE_METRICS', 'TS_HEALTHCHECK_ADDR_PORT', 'TS_DEBUG_ADDR_PORT', 'TS_EXPERIMENTAL_ENABLE_FORWARDING_OPTIMIZATIONS',
  'TS_EXPERIMENTAL_SERVICE_AUTO_ADVERTISEMENT', 'TS_EXPERIMENTAL_CERT_SHARE', 'POD_IP', 'POD_IPS', 'POD_UID', 'POD_NAME',
  'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT_HTTPS', 'TS_KUBERNETES_READ_API_SERVER_ADDRESS_FROM_ENV',
  'TS_DEBUG_FIREWALL_MODE', 'TS_TEST_SLEEP_DURATION', 'TS_CERT_DOMAIN',
] as const;

/** Variables whose values are secrets: they must never be printed. */
export const SECRET_VARS = ['TS_AUTHKEY', 'TS_AUTH_KEY', 'TS_CLIENT_SECRET', 'TS_ID_TOKEN'] as const;

/** Values near the edges of what the parsers accept, plus plain garbage. */
const edgeValues = [
  '', ' ', 'true', 'false', 'TRUE', 'yes', '0', '1', '-1', '90', '90s', '1h', '-5m', '1.5.5s', '0x10s',
  '300.1.2.3', '10.0.0.1', '10.0.0.0/33', '10.0.0.0/8', '10.0.0.0/8,', 'fd00::1', 'fd00::/129', '::ffff:1.2.3.4',
  '[::1]:9002', ':9002', '[::]:99999', 'localhost:80', '1.2.3.4:', '100.64.0.1,fd7a::1,10.0.0.1',
  'node.tailnet.ts.net', 'node.tailnet.ts.net.', '--accept-dns', '--accept-dns=maybe', '--accept-dns=a=b',
  '/nonexistent/dir', '/dev/null', '/proc/self/root/proc/self/root', '..', '%s%n%x', '${TS_CERT_DOMAIN}',
  'ünïcødé', '🚀🚀🚀', '\u202e\u200b', '\ud800', 'a\nb', 'a\tb c', '"quoted"', '\\', '$(id)', ';rm -rf /',
];

/** An environment value: edge value, random unicode, or huge. No NUL: the kernel cannot pass one. */
export const envValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...edgeValues) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\0/g, '')) },
  // Huge, but under the kernel's 128 KiB limit for one environment string (MAX_ARG_STRLEN, in
  // bytes: 'é' is two in UTF-8, so n counts bytes, not characters; 100 000 'é' failed spawn E2BIG).
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', '9', 'é', ':', '/', ','), fc.integer({ min: 10_000, max: 100_000 })).map(([c, n]) => c.repeat(Math.floor(n / Buffer.byteLength(c)))) },
);

/** A secret value: long enough to be recognisable in output, never a substring of anything else. */
export const secretValue: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9]{24}$/).map((s) => `tskey-fuzz-${s}`);

/** A set of variables (one or several), each with an arbitrary value. */
export const envSubset: fc.Arbitrary<Record<string, string>> = fc.dictionary(fc.constantFrom(...ENV_VARS), envValue, { minKeys: 1, maxKeys: 8 });

/** The names a message may use for a variable (upstream's own spellings included). */
export const MESSAGE_NAMES: Record<string, string[]> = {
  POD_IPS: ['POD_IPS', 'POD_IPs'],
  TS_TAILNET_TARGET_FQDN: ['TS_TAILNET_TARGET_FQDN', 'TS_TAILNET_FQDN'],
  TS_AUTH_KEY: ['TS_AUTH_KEY', 'TS_AUTHKEY'],
};

/** The set variables a message names. */
export function namedVars(message: string, env: Record<string, string | undefined>): string[] {
  return Object.keys(env).filter((k) => (MESSAGE_NAMES[k] ?? [k]).some((n) => new RegExp(`(^|[^A-Z_])${n}([^A-Z_]|$)`).test(message)));
}

/** The base a fuzzed environment is laid on: userspace, kernel mode, Kubernetes, both. */
export const envMode: fc.Arbitrary<Record<string, string>> = fc.constantFrom<Record<string, string>>(
  {}, { TS_USERSPACE: 'false' }, { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, { TS_USERSPACE: 'false', KUBERNETES_SERVICE_HOST: 'h' },
);

/** A test timeout that grows with the number of runs. */
export function fuzzTimeout(ms: number): number {
  return Math.round(ms * Math.max(1, runsScale));
}
