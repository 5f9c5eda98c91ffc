// Public surface of the firewall engine.
export { createFirewall, createBackendFirewall, fakeIPv6 } from './create.js';
export { FakeFirewall } from './fake.js';
export { FirewallEngine } from './engine.js';
export { FirewallApplyError, InvalidRuleError } from './errors.js';
export type { Firewall, FirewallMode, ProxyRule } from './types.js';
