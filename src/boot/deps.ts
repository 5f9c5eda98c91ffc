// What every phase may use and none may change: the settings, the lifecycle signals, the LocalAPI
// client, the metrics and the background-task failure channel.
import type { Lifecycle } from '../lifecycle.js';
import type { LocalAPIClient } from '../localapi/client.js';
import type { Metrics } from '../http/metrics.js';
import type { Settings } from '../settings/types.js';
import type { TaskFailure } from './state.js';
import type { Components } from './types.js';

export interface BootDeps {
  readonly s: Settings;
  readonly env: NodeJS.ProcessEnv;
  readonly c: Components;
  readonly lc: Lifecycle;
  readonly client: LocalAPIClient;
  readonly metrics: Metrics;
  readonly tasks: TaskFailure;
}
