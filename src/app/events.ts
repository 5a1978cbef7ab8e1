import { EventEmitter } from "node:events";

/** In-process notifications between the control plane and the gateway (cache invalidation). Replicas sharing
 * PostgreSQL do not see these; the gateway's caches are bounded in time for that case. */
export interface AppEventMap {
  "service.changed": [name: string];
  "nonce.revoked": [id: string];
  "key.revoked": [id: string];
  "trust.changed": [name: string];
}

export class AppEvents extends EventEmitter<AppEventMap> {}
