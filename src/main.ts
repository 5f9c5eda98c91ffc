// Entry point: wire the optional components and run the boot sequence. Components are imported
// lazily so a plain configuration never evaluates (or pays memory for) Kubernetes, firewall or
// file-watching code.
import { run, type Components } from './orchestrator.js';
import { findSubcommand } from './cli/index.js';
import { isL3Proxy } from './settings/types.js';
import { redact } from './log.js';
import { enableMemoryUpkeep } from './proc/memoryUpkeep.js';
import { capJitTier } from './boot/v8Flags.js';
import { dropLauncherTunables } from './proc/tunables.js';

// Before anything reads the environment or starts a process (tunables.ts says why).
dropLauncherTunables(process.env);

const kube = () => import('./kube/components.js').then((m) => m.kubeComponents);

const components: Components = {
  createKube: async (s) => (await kube()).createKube(s),
  reissueAuthKey: async (ctx) => (await kube()).reissueAuthKey(ctx),
  watchConfig: async (ctx) => (await kube()).watchConfig(ctx),
  createFirewall: async (env) => (await import('./firewall/index.js')).createFirewall(env),
  createProxies: async (settings, firewall, fail) => {
    const { SingletonProxies } = await import('./proxies/singleton.js');
    return new SingletonProxies({ settings, firewall, fail });
  },
  createServices: async (ctx) => (await import('./services/index.js')).createServices(ctx),
  // During the login wait: the modules the run loop will need, and the firewall's hot path warmed.
  preload: async (s) => {
    const parts: Promise<unknown>[] = [import('./services/index.js')];
    if (isL3Proxy(s)) {
      parts.push(import('./proxies/singleton.js'), import('./boot/warmFirewall.js').then((m) => m.warmFirewallPaths()));
    }
    // After the built-ins are loaded (v8Flags.ts says why not on the command line).
    await Promise.all(parts).finally(capJitTier);
    // After the cap, so the sample compiles to the tiers the real syncs will run in.
    if (s.egressProxiesCfgPath !== '') await (await import('./boot/warmEgress.js')).warmEgressIfLarge(s.egressProxiesCfgPath);
  },
};

const sub = findSubcommand(process.argv[2]);
if (!sub) enableMemoryUpkeep();
const main: Promise<number> = sub
  ? sub().then((cmd) => cmd(process.argv.slice(3), process.env))
  : run(process.env, components);
main.then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(redact(`${sub ? 'containerboot' : 'boot'}: unexpected error: ${e instanceof Error ? e.stack : String(e)}\n`));
    process.exit(1);
  },
);
