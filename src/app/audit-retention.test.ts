import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import type { AuditDraft } from "../core/types.js";
import type { Store } from "../store/store.js";
import { type TestContext, testContext } from "../test/context.js";
import { dialects } from "../test/stores.js";
import { type AuditRuntime, startAuditRuntime } from "./audit-runtime.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

describe.each(dialects)("audit retention ($name)", (d) => {
  let store: Store;
  let ctx: TestContext;
  let audit: AuditRuntime;
  const clock = new ManualClock(T0);
  const append = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const now = clock.now();
      const e: AuditDraft = {
        id: newId("evt", now),
        time: now,
        type: "service.updated",
        actor: { type: "system", id: "t", name: "t" },
        agent: null,
        task: null,
        nonceId: null,
        service: "s",
        scopes: null,
        reason: null,
        request: null,
        sourceIp: null,
        data: { i },
      };
      await store.appendAudit([e]);
      clock.advance(1000);
    }
  };

  beforeEach(async () => {
    if (d.skip) return;
    store = await d.create();
    ctx = await testContext({ store, clock, config: { audit: { retention: "90d" } } });
    audit = await startAuditRuntime(ctx);
  });
  afterEach(async () => {
    if (d.skip) return;
    await audit.close();
    await ctx.close();
    await store.close();
  });

  it.skipIf(d.skip)("prunes old events only through a signed checkpoint; the rest still verifies", async () => {
    await append(10);
    await audit.checkpointer.checkpoint(); // seq 10
    await append(5);
    await audit.checkpointer.checkpoint(); // seq 15
    clock.advance(60 * DAY);
    await append(5); // seq 16-20: 60 days younger
    await audit.checkpointer.checkpoint(); // seq 20

    expect(await audit.prune()).toEqual({ throughSeq: null, pruned: 0 }); // nothing is 90 days old yet
    clock.advance(31 * DAY);
    // Events 1-15 are now older than 90 days; 16-20 are not. The newest checkpoint among the old ones is 15.
    expect(await audit.prune()).toEqual({ throughSeq: 15, pruned: 15 });
    expect((await store.scanAudit(0, 100)).map((e) => e.seq)).toEqual([16, 17, 18, 19, 20]);
    expect(await audit.verify()).toMatchObject({ ok: true, events: 5, from_seq: 15 });
    // Idempotent: nothing more is eligible.
    expect(await audit.prune()).toEqual({ throughSeq: null, pruned: 0 });
    // Pruning past the anchor without a checkpoint there (event 16 and the checkpoint rows below it) is caught.
    await store.pruneAudit(16, 1);
    expect(await audit.verify()).toMatchObject({ ok: false, reason: "anchor_missing" });
  });

  it.skipIf(d.skip)("never prunes past the newest checkpoint, even when older events exist after it", async () => {
    await append(4);
    await audit.checkpointer.checkpoint(); // seq 4
    await append(6); // seq 5-10, no checkpoint covers them
    clock.advance(100 * DAY);
    expect(await audit.prune()).toEqual({ throughSeq: 4, pruned: 4 });
    expect(await audit.verify()).toMatchObject({ ok: true, events: 6, from_seq: 4 });
  });
});
