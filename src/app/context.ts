import type { Config } from "../config.js";
import type { Clock } from "../core/clock.js";
import type { MasterKeys } from "../core/crypto.js";
import type { Store } from "../store/store.js";
import type { AppEvents } from "./events.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/** Everything built once at start by the composition root (src/server.ts) and handed to the API and gateway. */
export interface AppContext {
  readonly config: Config;
  readonly store: Store;
  readonly masterKeys: MasterKeys;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly events: AppEvents;
}
