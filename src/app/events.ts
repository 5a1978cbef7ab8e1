import { EventEmitter } from "node:events";

/** In-process notifications between the control plane and the gateway (cache invalidation). On PostgreSQL they
 * reach every replica through LISTEN/NOTIFY (replica-events.ts); the caches' 1 s time bound stays as the fallback. */
export interface AppEventMap {
  "service.changed": [name: string];
  "nonce.revoked": [id: string];
  "key.revoked": [id: string];
  "trust.changed": [name: string];
  /** The replica change feed (re)connected: notifications may have been missed, drop every cached entry. */
  "replica.resync": [];
}

export class AppEvents extends EventEmitter<AppEventMap> {}
