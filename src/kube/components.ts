// The kube parts in the shape the orchestrator's Components expect (src/orchestrator.ts).
import type { Components } from '../orchestrator.js';
import { runConfigReloadWatch } from './configReload.js';
import { reissueAuthKey } from './reissue.js';
import { createKubeStateStore } from './store.js';

export const kubeComponents: Required<Pick<Components, 'createKube' | 'reissueAuthKey' | 'watchConfig'>> = {
  createKube: (s) => createKubeStateStore(s),
  reissueAuthKey: (ctx) => reissueAuthKey({
    store: ctx.kube,
    localAPI: ctx.client,
    configFilePath: ctx.settings.tailscaledConfigFilePath,
    oldAuthKey: ctx.configAuthKey,
    signal: ctx.signal,
  }),
  watchConfig: (ctx) => runConfigReloadWatch({
    configFilePath: ctx.settings.tailscaledConfigFilePath,
    localAPI: ctx.client,
    signal: ctx.signal,
    onReady: ctx.onReady,
  }),
};
