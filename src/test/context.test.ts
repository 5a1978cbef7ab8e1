import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { open, seal } from "../core/crypto.js";
import { testContext } from "./context.js";

describe("testContext", () => {
  it("builds a real, migrated context in a temp dir and removes it on close", async () => {
    const ctx = await testContext({ config: { ttl: { default: 60, min: 1, max: 600 } } });
    expect(ctx.clock).toBeInstanceOf(ManualClock);
    ctx.clock.advance(1000);
    expect(ctx.config.dataDir).toBe(ctx.dataDir);
    expect(ctx.config.ttl.default).toBe(60_000);
    expect(await ctx.store.auditHead()).toMatchObject({ seq: 0 });
    const secret = Buffer.from("sk_test_FAKE_context");
    expect(open(ctx.masterKeys, "svc", seal(ctx.masterKeys, "svc", secret))).toEqual(secret);
    await ctx.close();
    expect(existsSync(ctx.dataDir)).toBe(false);
  });
});
