import type { Config } from "../config.js";
import type { Clock } from "../core/clock.js";
import type { MasterKeys } from "../core/crypto.js";
import type { GatewayStore, Store } from "../store/store.js";
import type { AppEvents } from "./events.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * Everything built once at start by the composition root (src/server.ts) and handed to the API and gateway.
 * `S` is the part of the store a consumer uses (src/store/store.ts): a use case declares e.g.
 * `AppContext<ApiKeyStore>` (`AppContext<unknown>` when it uses no store), and the root's `AppContext` (the whole
 * `Store`) is passed as is.
 */
export interface AppContext<S = Store> {
  readonly config: Config;
  readonly store: S;
  readonly masterKeys: MasterKeys;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly events: AppEvents;
}

/** The gateway's context: nonces, audit events, services and their credentials. */
export type GatewayContext = AppContext<GatewayStore>;
