import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { compileRoutes, routeAllows } from "../../core/scopes.js";
import type { NonceInfo } from "../caches.js";
import { consumeRejection } from "./consume.js";
import { NonceLimits } from "./deps.js";
import { isRejection, type Subject } from "./exchange.js";

const subject = { nonce: { id: "non_x", service: "svc" } as NonceInfo, key: Buffer.alloc(38), path: "/a" } as Subject;

describe("routeAllows: HEAD where GET is, in one place", () => {
  const m = compileRoutes(["GET /v1/items/{id}", "POST /v1/orders"]);
  it.each([
    ["GET", ["v1", "items", "7"], true],
    ["HEAD", ["v1", "items", "7"], true],
    ["HEAD", ["v1", "orders"], false],
    ["POST", ["v1", "items", "7"], false],
  ] as const)("%s %j → %s", (method, segments, want) => {
    expect(routeAllows(m, method, segments)).toBe(want);
  });
  it("keeps the encoded-slash restriction for HEAD too", () => {
    const r = compileRoutes(["GET /files/{name}"]);
    expect(routeAllows(r, "HEAD", ["files", "a"], 1)).toBe(false);
    expect(routeAllows(r, "HEAD", ["files", "a"], 2)).toBe(true);
  });
});

describe("consumeRejection: a consume that counted no use", () => {
  it("a dead reason is its 401, a changed nonce is nonce_invalid", () => {
    expect(consumeRejection(subject, { ok: false, reason: "nonce_revoked", nonce: null })).toMatchObject({
      rejected: "nonce_revoked",
      message: "nonce has been revoked",
      subject,
    });
    expect(consumeRejection(subject, { ok: false, reason: "nonce_invalid", nonce: null }).rejected).toBe(
      "nonce_invalid",
    );
  });
  it("a store's rate_limited is a 429 with Retry-After in whole seconds, not audited again, not dead", () => {
    const limited = { ok: false, reason: "rate_limited", retryAfterMs: 1_200, nonce: null } as unknown as Parameters<
      typeof consumeRejection
    >[1];
    const r = consumeRejection(subject, limited);
    expect(r).toMatchObject({ rejected: "rate_limited", retryAfterS: 2, subject });
    expect(r.audit).toBeUndefined();
    expect(r.unlessDead).toBeUndefined();
    expect(isRejection(r)).toBe(true);
  });
});

describe("NonceLimits: in-flight slots per nonce, given back when the response closes", () => {
  it("refuses past the limit and frees the slot once, on release", () => {
    const limits = new NonceLimits();
    const res = () => {
      const r = {} as ServerResponse;
      limits.open(r);
      return r;
    };
    const a = res();
    const b = res();
    const c = res();
    expect(limits.hold(a, "n1", 2)).toBe(true);
    expect(limits.hold(b, "n1", 2)).toBe(true);
    expect(limits.hold(c, "n1", 2)).toBe(false);
    limits.release(a);
    limits.release(a);
    limits.release(c);
    expect(limits.hold(c, "n1", 2)).toBe(true);
    expect(limits.hold(res(), "n1", 2)).toBe(false);
  });
});
