import { describe, expect, it } from "vitest";
import type { ChangeFeed } from "../store/postgres-notify.js";
import { AppEvents } from "./events.js";
import { bridgeReplicaEvents } from "./replica-events.js";

describe("bridgeReplicaEvents", () => {
  it("publishes local changes, re-emits remote ones without publishing them again, resync drops caches", () => {
    const events = new AppEvents();
    const published: Array<[string, string]> = [];
    const feed: ChangeFeed = { listening: true, publish: (e, a) => published.push([e, a]), close: async () => {} };
    const bridge = bridgeReplicaEvents(events);
    bridge.attach(feed);
    const seen: string[] = [];
    events.on("service.changed", (n) => seen.push(`service:${n}`));
    events.on("key.revoked", (id) => seen.push(`key:${id}`));
    events.on("replica.resync", () => seen.push("resync"));

    events.emit("service.changed", "stripe");
    events.emit("nonce.revoked", "nce_1");
    expect(published).toEqual([
      ["service.changed", "stripe"],
      ["nonce.revoked", "nce_1"],
    ]);
    bridge.receive("key.revoked", "key_2");
    bridge.receive("not.an.event", "x");
    bridge.resync();
    expect(seen).toEqual(["service:stripe", "key:key_2", "resync"]);
    expect(published).toHaveLength(2);

    bridge.dispose();
    events.emit("service.changed", "later");
    expect(published).toHaveLength(2);
  });
});
