import type { LookupAddress } from "node:dns";
import net from "node:net";
import type { Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { createForwarder, createGuardedLookup, guardedLookup, type Resolver } from "./forward.js";

/**
 * SECURITY.md rules 9 and 15 at resolve time: a name whose answers are all non-public (including IPv6 transition
 * forms of private or loopback IPv4 addresses) is refused before undici opens a socket. No test here resolves a
 * real name or connects anywhere but a loopback sentinel that counts the connections it receives.
 */

const fixed =
  (answers: LookupAddress[]): Resolver =>
  (_host, _opts, cb) =>
    cb(null, answers);

function lookupWith(lookup: ReturnType<typeof createGuardedLookup>, host: string) {
  return new Promise<{ err: NodeJS.ErrnoException | null; addresses: unknown }>((resolve) =>
    lookup(host, { all: true }, (err, addresses) => resolve({ err, addresses })),
  );
}

describe("guardedLookup", () => {
  // dns.lookup answers an IP literal itself, without a query: these never leave the process.
  it.each([
    "::ffff:127.0.0.1",
    "::ffff:a9fe:a9fe",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "64:ff9b:1::808:808",
    "2002:c0a8:101::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "fe80::1",
  ])("refuses the literal %s with EADDRNOTPUBLIC", async (ip) => {
    const { err } = await lookupWith(guardedLookup, ip);
    expect(err?.code).toBe("EADDRNOTPUBLIC");
  });

  it("refuses when every answer is a transition form of a private address", async () => {
    const lookup = createGuardedLookup(
      fixed([
        { address: "::ffff:10.0.0.1", family: 6 },
        { address: "64:ff9b::a9fe:a9fe", family: 6 },
        { address: "2002:7f00:1::1", family: 6 },
        { address: "192.168.0.1", family: 4 },
      ]),
    );
    const { err } = await lookupWith(lookup, "upstream.example");
    expect(err?.code).toBe("EADDRNOTPUBLIC");
  });

  it("keeps only the public answers of a mixed set", async () => {
    const lookup = createGuardedLookup(
      fixed([
        { address: "::ffff:127.0.0.1", family: 6 },
        { address: "203.0.114.1", family: 4 },
        { address: "2001:0:4136:e378:8000:63bf:f5ff:fffe", family: 6 },
      ]),
    );
    const { err, addresses } = await lookupWith(lookup, "upstream.example");
    expect(err).toBeNull();
    expect(addresses).toEqual([{ address: "203.0.114.1", family: 4 }]);
  });
});

describe("the strict forwarder never connects to a non-public answer", () => {
  let sentinel: net.Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    sentinel = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => sentinel.listen(0, "127.0.0.1", r));
    port = (sentinel.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => sentinel.close(r));
  });

  const gateway = loadConfig({ flags: { dataDir: "/tmp/unused", logLevel: "silent" } }).gateway;

  /** Dispatches one GET and resolves with the error code (or "response") once the attempt is over. */
  async function attempt(resolver: Resolver, guarded: boolean): Promise<string> {
    const lookup = guarded
      ? createGuardedLookup(resolver)
      : (h: string, o: object, cb: (e: Error | null, a: LookupAddress[]) => void) =>
          resolver(h, { ...o, all: true }, (e, a) => cb(e, a));
    const fwd = createForwarder(gateway, lookup as Parameters<typeof createForwarder>[1]);
    try {
      return await new Promise<string>((resolve) => {
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart: () => {},
          onResponseStart: () => resolve("response"),
          onResponseData: () => {},
          onResponseEnd: () => {},
          onResponseError: (_c, err) => resolve(String((err as NodeJS.ErrnoException).code)),
        };
        fwd.dispatch(
          { origin: `http://upstream.example:${port}`, insecure: false },
          { origin: `http://upstream.example:${port}`, path: "/v1/x", method: "GET", headers: {} },
          handler,
        );
      });
    } finally {
      await fwd.close();
    }
  }

  it("a name resolving to ::ffff:127.0.0.1 is refused with no connection made", async () => {
    const before = connections;
    const mapped = fixed([{ address: "::ffff:127.0.0.1", family: 6 }]);
    expect(await attempt(mapped, true)).toBe("EADDRNOTPUBLIC");
    expect(connections).toBe(before);
    // Control: without the guard the same answer does reach the loopback sentinel, so the count above can fail.
    await attempt(mapped, false);
    expect(connections).toBe(before + 1);
  });
});
