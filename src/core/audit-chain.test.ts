import { describe, expect, it } from "vitest";
import { GENESIS_HASH, link, verifyChain } from "./audit-chain.js";
import type { AuditDraft } from "./types.js";

function draft(i: number): AuditDraft {
  return {
    id: `evt_${i}`,
    time: Date.UTC(2026, 0, 1) + i,
    type: "nonce.used",
    actor: { type: "nonce", id: "nce_x", name: "bot" },
    agent: "bot",
    task: "t1",
    nonceId: "nce_x",
    service: "stripe",
    scopes: ["read:customers"],
    reason: null,
    request: { method: "GET", path: "/v1/customers", status: null, duration_ms: null, bytes: null },
    sourceIp: "127.0.0.1",
    data: null,
  };
}

describe("audit hash chain", () => {
  const events = link([1, 2, 3, 4, 5].map(draft), { seq: 0, hash: GENESIS_HASH });

  it("links seq and prev_hash and verifies", () => {
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]?.prevHash).toBe(GENESIS_HASH);
    expect(events[1]?.prevHash).toBe(events[0]?.hash);
    expect(verifyChain(events)).toEqual({ ok: true, events: 5 });
  });

  it("detects an edited event", () => {
    const edited = events.map((e) => (e.seq === 3 ? { ...e, agent: "someone-else" } : e));
    expect(verifyChain(edited)).toEqual({ ok: false, events: 2, first_bad_seq: 3 });
  });

  it("detects a deleted event", () => {
    expect(verifyChain(events.filter((e) => e.seq !== 2))).toMatchObject({ ok: false, first_bad_seq: 2 });
  });

  it("detects reordering", () => {
    const swapped = [events[0], events[2], events[1], events[3], events[4]].filter((e) => e !== undefined);
    expect(verifyChain(swapped)).toMatchObject({ ok: false, first_bad_seq: 2 });
  });

  it("detects a re-hashed edit (the next link breaks)", () => {
    const [e1, e2, ...rest] = events;
    const forged = link([{ ...draft(2), agent: "forged" }], { seq: 1, hash: e1!.hash });
    expect(verifyChain([e1!, ...forged, ...rest])).toMatchObject({ ok: false, first_bad_seq: 3 });
    expect(e2).toBeDefined();
  });

  it("resumes from a checkpoint head", () => {
    const head = { seq: 2, hash: events[1]!.hash };
    expect(verifyChain(events.slice(2), head)).toEqual({ ok: true, events: 3 });
  });
});
