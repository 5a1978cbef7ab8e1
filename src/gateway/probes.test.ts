import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { AppContext } from "../app/context.js";
import { ManualClock } from "../core/clock.js";
import { MIGRATIONS } from "../store/migrations/index.js";
import type { Store } from "../store/store.js";
import { type RawStore, rawDialects } from "../test/raw-stores.js";
import { answerProbe, isProbe } from "./probes.js";

/** The gateway's own /healthz and /readyz: answered only for credential-less GET/HEAD, never for a nonce. */

function req(method: string, url: string, headers: http.IncomingHttpHeaders = {}): http.IncomingMessage {
  return { method, url, headers } as http.IncomingMessage;
}

describe("isProbe", () => {
  it("takes exactly GET/HEAD /healthz and /readyz without any credential carrier", () => {
    expect(isProbe(req("GET", "/healthz"))).toBe(true);
    expect(isProbe(req("HEAD", "/readyz"))).toBe(true);
    for (const h of [
      { authorization: "Bearer an_x" },
      { "x-agent-nonce": "an_x" },
      { "proxy-authorization": "Basic eA==" },
      { cookie: "a=b" },
    ]) {
      // An agent calling its upstream's own /healthz with a nonce goes through the nonce checks, as any path.
      expect(isProbe(req("GET", "/healthz", h))).toBe(false);
    }
    for (const u of ["/healthz?x=1", "/healthz/", "/readyz/x", "/v1/healthz", "/HEALTHZ"]) {
      expect(isProbe(req("GET", u))).toBe(false);
    }
    expect(isProbe(req("POST", "/healthz"))).toBe(false);
  });
});

describe.each(rawDialects)("answerProbe ($name)", (d) => {
  let raw: RawStore | undefined;
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await raw?.close();
    raw = server = undefined;
  });

  async function probe(store: Store, path: string): Promise<{ status: number; body: string }> {
    const ctx = { store, clock: new ManualClock(0), config: { role: "gateway" } } as unknown as AppContext;
    server = http.createServer((q, s) => void answerProbe(ctx, q, s));
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    const body = await r.text();
    await new Promise((r) => server?.close(r));
    server = undefined;
    return { status: r.status, body };
  }

  it.skipIf(d.skip)(
    "readyz is 200 when migrated, 503 unavailable when a migration is missing; healthz stays 200",
    async () => {
      raw = await d.create();
      expect(await probe(raw.store, "/readyz")).toMatchObject({ status: 200 });
      await raw.exec(`DELETE FROM schema_migrations WHERE version = ${MIGRATIONS.at(-1)?.version ?? 0}`);
      const r = await probe(raw.store, "/readyz");
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).error.code).toBe("unavailable");
      expect(await probe(raw.store, "/healthz")).toMatchObject({ status: 200 });
    },
  );

  it.skipIf(d.skip)("readyz is 503 when the store does not answer", async () => {
    raw = await d.create();
    const broken = { ...raw.store, pendingMigrations: () => Promise.reject(new Error("connection refused")) };
    const r = await probe(broken, "/readyz");
    expect(r.status).toBe(503);
    expect(r.body).not.toContain("connection refused");
  });
});
