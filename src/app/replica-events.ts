import type { ChangeFeed } from "../store/postgres-notify.js";
import type { AppEventMap, AppEvents } from "./events.js";

/**
 * Carries the in-process cache-invalidation events to every replica on the same PostgreSQL database and back:
 * a local emit is published, a remote one is re-emitted here (flagged so it is not published again).
 */
const RELAYED = ["service.changed", "nonce.revoked", "key.revoked", "trust.changed"] as const satisfies ReadonlyArray<
  keyof AppEventMap
>;
type Relayed = (typeof RELAYED)[number];

export interface ReplicaBridge {
  /** Feed callback: an event from another replica. */
  receive(event: string, arg: string): void;
  /** Feed callback: after a (re)connect, drop whatever was cached while notifications could have been missed. */
  resync(): void;
  attach(feed: ChangeFeed): void;
  dispose(): void;
}

export function bridgeReplicaEvents(events: AppEvents): ReplicaBridge {
  let feed: ChangeFeed | null = null;
  let relaying = false;
  const publishers = RELAYED.map((name) => {
    const fn = (arg: string) => {
      if (!relaying) feed?.publish(name, arg);
    };
    events.on(name, fn);
    return [name, fn] as const;
  });
  const relay = (fn: () => void) => {
    relaying = true;
    try {
      fn();
    } finally {
      relaying = false;
    }
  };
  return {
    receive(event, arg) {
      if (!(RELAYED as readonly string[]).includes(event)) return;
      relay(() => events.emit(event as Relayed, arg));
    },
    resync() {
      relay(() => events.emit("replica.resync"));
    },
    attach(f) {
      feed = f;
    },
    dispose() {
      for (const [name, fn] of publishers) events.off(name, fn);
      feed = null;
    },
  };
}
