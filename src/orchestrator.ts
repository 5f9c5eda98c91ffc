// The boot sequence, top to bottom, as upstream-behavior.md §2.1 describes it, with the deliberate
// fixes listed in docs/COMPATIBILITY.md. Each phase lives in src/boot/ and returns what the next
// one needs; what spans phases is the one BootState record (src/boot/state.ts).
import { log, registerRawSecrets, registerSecret } from './log.js';
import { settingsFromEnv, SettingsError } from './settings/fromEnv.js';
import { readAuthKeyFromConfigFile } from './settings/configDir.js';
import { isOneStepConfig, type Settings } from './settings/types.js';
import { LocalAPIClient } from './localapi/client.js';
import { trackSpawnedChildren } from './proc/children.js';
import { OrphanReaper } from './proc/reaper.js';
import { Metrics } from './http/metrics.js';
import { DaemonExitedError, Lifecycle } from './lifecycle.js';
import type { BootDeps } from './boot/deps.js';
import { prepareHost } from './boot/host.js';
import { requestNewAuthKey, setupKube } from './boot/kube.js';
import { spawnDaemon, waitForDaemonSocket } from './boot/daemon.js';
import { startHTTP } from './boot/http.js';
import { login, openLoginWatch } from './boot/login.js';
import { prepareParts } from './boot/prepare.js';
import { postLogin, startParts } from './boot/postLogin.js';
import { runLoop } from './boot/runLoop.js';
import { exitFor, exitGracefully } from './boot/shutdown.js';
import { newBootState, TaskFailure, type BootState } from './boot/state.js';
import type { Components } from './boot/types.js';

export type { Components, NetmapConsumer, ReissueContext, Services, ServicesContext } from './boot/types.js';

export async function run(env: NodeJS.ProcessEnv, components: Components = {}): Promise<number> {
  trackSpawnedChildren();
  // Before parsing: a secret pasted into another variable (TS_BOOT_TIMEOUT=<the key>) is echoed by
  // that variable's error, so the raw values are masked from the first line on.
  registerRawSecrets(env);
  const s = loadSettings(env);
  if (!s) return 1;
  for (const v of [s.authKey, s.clientSecret, s.idToken]) registerSecret(v);

  // Phase 1: host preparation (§2.1 step 2).
  if (!prepareHost(s)) return 1;

  const lc = new Lifecycle();
  lc.installSignalHandlers();
  const reaper = process.pid === 1 ? new OrphanReaper() : undefined;
  reaper?.start();
  const d: BootDeps = { s, env, c: components, lc, client: new LocalAPIClient(s.socket), metrics: new Metrics(), tasks: new TaskFailure() };
  const st = newBootState();
  const boot = lc.withDeadline(s.bootTimeoutMs);
  let code: number;
  try {
    await bootAndRun(d, st, boot.signal);
    code = 0;
  } catch (e) {
    // Phase 6: shutdown and the exit code (§2.6, §2.7).
    code = await exitFor(d, st, e);
  } finally {
    boot.clear();
  }
  reaper?.stop();
  d.client.close();
  return code;
}

function loadSettings(env: NodeJS.ProcessEnv): Settings | undefined {
  try {
    const r = settingsFromEnv(env);
    for (const l of r.logs) log(l);
    return r.settings;
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    for (const l of (e as SettingsError & { logs?: string[] }).logs ?? []) log(l);
    log(e.message);
    return undefined;
  }
}

async function bootAndRun(d: BootDeps, st: BootState, boot: AbortSignal): Promise<void> {
  const { s, lc } = d;
  const configAuthKey = isOneStepConfig(s) ? readAuthKeyFromConfigFile(s.tailscaledConfigFilePath) : '';
  registerSecret(configAuthKey);
  if (s.kubeSecret !== '') st.stateStore = await setupKube(d, configAuthKey, boot);

  // Phase 2: daemon start (§2.2), then the HTTP servers (§6).
  const daemon = st.daemon = await spawnDaemon(s);
  void daemon.exited.then(() => {
    if (!st.shutdown) lc.died.abort(new DaemonExitedError('tailscaled exited'));
  });
  await waitForDaemonSocket(d, boot);
  await startHTTP(d, st);

  // Phase 3: login, until tailscaled is Running (§2.3–§2.5, §3.2). Once the bus answers, what the
  // run loop needs and the netmap does not is prepared alongside (docs/PERFORMANCE.md).
  const w1 = await openLoginWatch(d, boot);
  const prepared = prepareParts(d, st);
  const loggedIn = await login(d, w1, st.stateStore !== undefined, boot);
  if (loggedIn.outcome === 'reissue') {
    await requestNewAuthKey(d, st.stateStore, configAuthKey);
    // Success: the runtime restarts us with the new config; exit 0 after the shutdown routine.
    return exitGracefully(d, st);
  }
  st.stage = 'running';

  // Phase 4: post-login set-up (§2.1 steps 14–19).
  const w = await postLogin(d, st.stateStore, loggedIn.runWatch);
  await startParts(d, st, prepared);

  // Phase 5: the run loop (§3.3), until cancelled or failed.
  await runLoop(d, st, w);
}
