import { describe, expect, it } from "vitest";
import type { NonceRecord } from "../core/types.js";
import { IssuedNonces } from "./issued-nonces.js";

const record = (id: string): NonceRecord => ({
  id,
  tokenKey: Buffer.alloc(38, 7),
  service: "svc",
  scopes: ["read"],
  routes: ["GET /v1/*"],
  agent: "agent",
  task: "task",
  maxUses: 3,
  uses: 0,
  constraints: { body: { amount: { max: 10 } } },
  metadata: { tags: ["a"] },
  rate: null,
  issuedBy: "key_x",
  createdAt: 1,
  expiresAt: 2,
  revokedAt: null,
});

describe("IssuedNonces", () => {
  it("reads a nonce once and answers later lookups from memory", () => {
    const cache = new IssuedNonces();
    let loads = 0;
    const load = () => {
      loads += 1;
      return record("nce_1");
    };
    const a = cache.get("nce_1", load);
    const b = cache.get("nce_1", load);
    expect(loads).toBe(1);
    expect(b).toBe(a);
    expect(a?.scopes).toEqual(["read"]);
  });

  it("does not remember a nonce that is not there", () => {
    const cache = new IssuedNonces();
    expect(cache.get("nce_gone", () => undefined)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.get("nce_gone", () => record("nce_gone"))?.id).toBe("nce_gone");
  });

  it("freezes what it shares, deep, so no caller can change a later consume's answer", () => {
    const cache = new IssuedNonces();
    const n = cache.get("nce_1", () => record("nce_1")) as NonceRecord;
    expect(() => (n.scopes as string[]).push("write")).toThrow(TypeError);
    expect(() => {
      (n.constraints as { body: { amount: { max: number } } }).body.amount.max = 1e9;
    }).toThrow(TypeError);
    expect(() => {
      (n.metadata as { tags: string[] }).tags[0] = "b";
    }).toThrow(TypeError);
    // A copy with the row's use state is the caller's own.
    const mine = { ...n, uses: 2 };
    mine.uses += 1;
    expect(mine.uses).toBe(3);
    expect(cache.get("nce_1", () => undefined)?.uses).toBe(0);
  });

  it("is bounded: past its size the oldest entry is read again", () => {
    const cache = new IssuedNonces(2);
    const loads: string[] = [];
    const get = (id: string) =>
      cache.get(id, () => {
        loads.push(id);
        return record(id);
      });
    get("a");
    get("b");
    get("c");
    expect(cache.size).toBe(2);
    get("b");
    get("a");
    expect(loads).toEqual(["a", "b", "c", "a"]);
  });
});
