import { createHash } from "node:crypto";
import canonicalizeModule from "canonicalize";
import { describe, expect, it } from "vitest";
import { eventHash, GENESIS_HASH, link, linkWithTexts, publicEvent, verifyChain } from "./audit-chain.js";
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

// The reference implementation of RFC 8785 (by one of its authors) is the oracle for the hashing serialiser.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string;

describe("canonical JSON (RFC 8785) of hashed events", () => {
  // Deterministic pseudo-random values that stress what RFC 8785 pins down: member order by UTF-16 code units
  // (astral vs BMP characters), string escapes, and ECMAScript number formatting.
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const strings = [
    "",
    "a",
    "z",
    "é",
    "ﬀ",
    "\u{1F600}",
    "\ud800",
    "\udfff",
    "\u2028",
    "\u0000",
    '"q"',
    "\\",
    "\n\t",
    "A",
    "_",
    "10",
    "9",
  ];
  const numbers = [0, -0, 1, -1, 0.1 + 0.2, 1e21, 1e-7, 123456789012345, -5e-324, 2 ** 53, 1.5, 100];
  const word = () => Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(strings)).join("");
  const value = (depth: number): unknown => {
    const k = rnd();
    if (depth > 2 || k < 0.3) return pick(numbers);
    if (k < 0.55) return word();
    if (k < 0.62) return pick([true, false, null]);
    if (k < 0.8) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [word(), value(depth + 1)]));
  };

  it("hashes exactly what canonicalize serialises, for 2,000 generated events", () => {
    const drafts = Array.from({ length: 2000 }, (_, i): AuditDraft => {
      const d = draft(i);
      return {
        ...d,
        agent: word(),
        task: rnd() < 0.2 ? null : word(),
        reason: rnd() < 0.5 ? null : word(),
        scopes: [word(), word()],
        request: { method: "GET", path: `/v1/${word()}`, status: 200, duration_ms: pick(numbers), bytes: 7 },
        data: JSON.parse(JSON.stringify({ [word()]: value(0), [word()]: value(0), request_id: word() })),
      };
    });
    const events = link(drafts, { seq: 0, hash: GENESIS_HASH });
    for (const e of events) {
      const { hash, ...hashed } = publicEvent(e);
      expect(createHash("sha256").update(canonicalize(hashed), "utf8").digest("hex")).toBe(hash);
    }
  });

  it("refuses a value JSON cannot represent instead of writing it some other way", () => {
    expect(() => link([{ ...draft(1), data: { x: Number.NaN } }], { seq: 0, hash: GENESIS_HASH })).toThrow();
    expect(() => link([{ ...draft(1), data: { x: 1n } }], { seq: 0, hash: GENESIS_HASH })).toThrow();
  });

  it("stores each JSON field's canonical text and hands back events equal to what a read of that text gives", () => {
    const odd: AuditDraft = {
      ...draft(1),
      actor: { type: "nonce", name: "bot", id: "nce_x" },
      request: { method: "GET", path: "/p", status: 200, duration_ms: -0, bytes: 1 },
      data: { z: 1, a: { nested: [1, "x"] }, gone: undefined, when: new Date(Date.UTC(2026, 0, 2)) } as Record<
        string,
        unknown
      >,
    };
    const { events, texts } = linkWithTexts([odd, draft(2)], { seq: 0, hash: GENESIS_HASH });
    const [e, plain] = events as [NonNullable<(typeof events)[0]>, NonNullable<(typeof events)[0]>];
    const t = texts[0] as NonNullable<(typeof texts)[0]>;
    expect(t.actor).toBe('{"id":"nce_x","name":"bot","type":"nonce"}');
    expect(t.data).toBe('{"a":{"nested":[1,"x"]},"when":"2026-01-02T00:00:00.000Z","z":1}');
    expect(t.request).toBe('{"bytes":1,"duration_ms":0,"method":"GET","path":"/p","status":200}');
    // Values that do not survive a read unchanged (-0, undefined members, a Date, nesting) come back parsed.
    expect(Object.is((e.request as { duration_ms: number }).duration_ms, 0)).toBe(true);
    expect(e.data).toEqual(JSON.parse(t.data));
    expect(e.data).not.toHaveProperty("gone");
    // What is hashed is what a reader recomputes from the stored texts.
    const readBack = { ...e, actor: JSON.parse(t.actor), request: JSON.parse(t.request), data: JSON.parse(t.data) };
    expect(eventHash(readBack, e.seq, e.prevHash)).toBe(e.hash);
    expect(verifyChain(events).ok).toBe(true);
    // A draft's flat values already equal their read are used as they are, and still hash the same.
    expect(plain.request).toEqual(draft(2).request);
    expect(eventHash(JSON.parse(JSON.stringify(plain)), plain.seq, plain.prevHash)).toBe(plain.hash);
  });
});
