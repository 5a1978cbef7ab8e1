import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { skipPostgres, TEST_DATABASE_URL } from "../test/stores.js";
import { startTcpProxy, type TcpProxy, viaProxy } from "../test/tcp-proxy.js";
import { type ChangeFeed, startChangeFeed } from "./postgres-notify.js";

/** The replica change feed on real PostgreSQL: delivery to other replicas only, and recovery after a cut. */

interface Probe {
  feed: ChangeFeed;
  got: Array<[string, string]>;
  resyncs: number;
  next(): Promise<[string, string]>;
  resynced(n: number): Promise<void>;
}

function feedOn(url: string, channel: string): Probe {
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const p: Probe = {
    got: [],
    resyncs: 0,
    feed: startChangeFeed({
      connectionString: url,
      channel,
      onChange: (e, a) => {
        p.got.push([e, a]);
        wake();
      },
      onResync: () => {
        p.resyncs += 1;
        wake();
      },
    }),
    async next() {
      const seen = p.got.length;
      while (p.got.length === seen) await new Promise<void>((r) => waiters.push(r));
      return p.got[seen] as [string, string];
    },
    async resynced(n) {
      while (p.resyncs < n) await new Promise<void>((r) => waiters.push(r));
    },
  };
  return p;
}

describe.skipIf(skipPostgres)("startChangeFeed (PostgreSQL LISTEN/NOTIFY)", () => {
  const probes: Probe[] = [];
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await Promise.all(probes.splice(0).map((p) => p.feed.close()));
    await proxy?.close();
    proxy = undefined;
  });

  it("delivers a change to the other replica, not back to its sender", async () => {
    const channel = `an_test_${randomBytes(6).toString("hex")}`;
    const a = feedOn(TEST_DATABASE_URL, channel);
    const b = feedOn(TEST_DATABASE_URL, channel);
    probes.push(a, b);
    await Promise.all([a.resynced(1), b.resynced(1)]);
    const arrived = b.next();
    a.feed.publish("service.changed", "stripe");
    expect(await arrived).toEqual(["service.changed", "stripe"]);
    const back = a.next();
    b.feed.publish("key.revoked", "key_1");
    expect(await back).toEqual(["key.revoked", "key_1"]);
    // a never saw its own publication: the only thing it received is b's.
    expect(a.got).toEqual([["key.revoked", "key_1"]]);
  });

  it("reconnects and resubscribes after the connection is cut, with a resync", async () => {
    const channel = `an_test_${randomBytes(6).toString("hex")}`;
    proxy = await startTcpProxy(Number(new URL(TEST_DATABASE_URL).port || 5432));
    const a = feedOn(TEST_DATABASE_URL, channel);
    const b = feedOn(viaProxy(TEST_DATABASE_URL, proxy), channel);
    probes.push(a, b);
    await Promise.all([a.resynced(1), b.resynced(1)]);
    proxy.cut();
    while (b.feed.listening) await new Promise((r) => setTimeout(r, 10));
    a.feed.publish("service.changed", "lost"); // b is deaf: this one is missed, hence the resync below
    proxy.restore();
    await b.resynced(2);
    const arrived = b.next();
    a.feed.publish("service.changed", "after");
    expect(await arrived).toEqual(["service.changed", "after"]);
    expect(b.got).toEqual([["service.changed", "after"]]);
  });
});
