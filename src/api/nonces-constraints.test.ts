import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tokenKey } from "../core/tokens.js";
import type { IssuerPolicy } from "../core/types.js";
import { type ApiHarness, apiHarness, stripeService } from "../test/api-harness.js";

/** Issuance with request constraints and rates, through the HTTP API (the gateway side is in src/gateway). */

let h: ApiHarness;

beforeEach(async () => {
  h = await apiHarness();
  await stripeService(h);
});
afterEach(async () => {
  await h.close();
});

const issue = (body: Record<string, unknown>, key?: string) =>
  h.call("POST", "/v1/nonces", {
    body: { service: "stripe", scope: "read:customers", agent: "billing-bot", ...body },
    key,
  });

const stored = async (token: string) => h.ctx.store.getNonceByKey(tokenKey(token));

describe("POST /v1/nonces constraints", () => {
  it("stores valid constraints (field paths and route-scoped maps) as given", async () => {
    const constraints = {
      "query.limit": { max: 10 },
      "POST /v1/refunds": { "body.amount": { max: 5000 }, "body.metadata.order_id": { pattern: "ord_[0-9]+" } },
      "body.currency": [{ in: ["usd", "eur"] }, { eq: "usd" }],
    };
    const r = await issue({ constraints });
    expect(r.status).toBe(201);
    expect((await stored(r.body.nonce))?.constraints).toEqual(constraints);
  });

  it.each([
    ["an unknown operator", { "body.amount": { lte: 5 } }, /unknown operator "lte"/],
    ["an invalid RegExp", { "body.id": { pattern: "ord_(" } }, /not a valid regular expression/],
    ["a pattern over 200 characters", { "body.id": { pattern: "a".repeat(201) } }, /longer than 200/],
    ["min greater than max", { "body.amount": { min: 10, max: 5 } }, /min is greater than max/],
    ["a route key that does not parse", { "POST /v1/refunds/{": { "body.amount": { max: 1 } } }, /segment/],
    ["a path outside body./query.", { "headers.x": { eq: "1" } }, /field path/],
    ["an empty operator object", { "body.amount": {} }, /names no operator/],
    ["min that is not a number", { "body.amount": { min: "5" } }, /min .* must be a number/],
    ["a route mapping to operators", { "POST /v1/refunds": { max: 5 } }, /must start with "body\." or "query\."/],
    ["oversized constraints", { "body.a": { in: Array.from({ length: 100 }, (_, i) => "x".repeat(80) + i) } }, /8192/],
  ])("400 invalid_request for %s", async (_name, constraints, message) => {
    const r = await issue({ constraints });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
    expect(r.body.error.message).toMatch(/^constraints/);
    expect(r.body.error.message).toMatch(message);
    // Nothing issued, nothing audited as a denial: a malformed request is not a policy decision.
    expect((await h.ctx.store.listNonces({}, { limit: 10 }, h.clock.now())).items).toHaveLength(0);
  });

  it.each([
    ["a backreference", "(a)\\1", /backreference/],
    ["a lookahead", "(?=ord_)ord_[0-9]+", /lookaround/],
    ["a lookbehind", "(?<=x)y", /lookaround/],
  ])("422 pattern_unsupported for %s (RE2 cannot run it), nothing issued", async (_name, pattern, message) => {
    const r = await issue({ constraints: { "body.id": { pattern } } });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("pattern_unsupported");
    expect(r.body.error.message).toMatch(message);
    expect((await h.ctx.store.listNonces({}, { limit: 10 }, h.clock.now())).items).toHaveLength(0);
  });

  it("accepts nested quantifiers: RE2 runs them in linear time", async () => {
    const r = await issue({ constraints: { "body.id": { pattern: "(a+)+" } } });
    expect(r.status).toBe(201);
  });
});

describe("POST /v1/nonces rate", () => {
  it("stores the rate and returns it on issuance and on GET /v1/nonces/{id}", async () => {
    const r = await issue({ rate: "60/m" });
    expect(r.status).toBe(201);
    expect(r.body.rate).toBe("60/m");
    expect((await stored(r.body.nonce))?.rate).toBe("60/m");
    expect((await h.call("GET", `/v1/nonces/${r.body.id}`)).body.rate).toBe("60/m");
    const events = await h.ctx.store.listAudit({ nonceId: r.body.id }, { limit: 10 });
    expect(events.items[0]?.data).toMatchObject({ rate: "60/m" });
  });

  it.each(["60", "0/m", "60/d", "1.5/s", "-1/s", "60/min", " 60/m", "1234567890/s"])(
    "400 invalid_request for rate %j",
    async (rate) => {
      const r = await issue({ rate });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
      expect(r.body.error.message).toMatch(/rate/);
    },
  );
});

describe("issuer policy constraints and max_rate", () => {
  const required = { "POST /v1/refunds": { "body.amount": { max: 10_000 } }, "query.limit": { max: 100 } };
  const policy: IssuerPolicy = {
    allow: [{ service: "stripe", scopes: ["read:customers"], constraints: required, max_rate: "60/m" }],
  };

  it("AND-merges the rule's constraints into the nonce's, so an issuer cannot escape them", async () => {
    const { key } = await h.createKey("issuer", policy);
    const none = await issue({}, key);
    expect(none.status).toBe(201);
    expect((await stored(none.body.nonce))?.constraints).toEqual(required);

    const own = { "query.limit": { max: 500 }, "POST /v1/refunds": { "body.amount": { max: 50_000 } } };
    const wider = await issue({ constraints: own }, key);
    expect(wider.status).toBe(201);
    // Both bounds are kept, so the effective limit is the tighter one (checked at the gateway).
    expect((await stored(wider.body.nonce))?.constraints).toEqual({
      "query.limit": [{ max: 500 }, { max: 100 }],
      "POST /v1/refunds": { "body.amount": [{ max: 50_000 }, { max: 10_000 }] },
    });
  });

  it("applies max_rate when the issuer gives none, admits a tighter rate and denies a looser one", async () => {
    const { key } = await h.createKey("issuer", policy);
    expect((await issue({}, key)).body.rate).toBe("60/m");
    expect((await issue({ rate: "1/s" }, key)).body.rate).toBe("1/s");
    expect((await issue({ rate: "10/m" }, key)).body.rate).toBe("10/m");
    for (const rate of ["61/m", "2/s", "100/h"]) {
      const r = await issue({ rate }, key);
      expect(r.status).toBe(403);
      expect(r.body.error.message).toMatch(/max_rate of 60\/m/);
    }
    const denied = await h.ctx.store.listAudit({ type: "nonce.issue_denied" }, { limit: 10 });
    expect(denied.items.map((e) => e.reason)).toEqual(Array(3).fill("rate_exceeds_policy"));
  });

  it("POST /v1/keys validates a rule's constraints and max_rate", async () => {
    const bad = async (rule: Record<string, unknown>) =>
      h.call("POST", "/v1/keys", {
        body: { name: "i", role: "issuer", policy: { allow: [{ service: "stripe", scopes: ["*"], ...rule }] } },
      });
    const r1 = await bad({ constraints: { "body.amount": { max: 1, min: 2 } } });
    expect(r1.status).toBe(400);
    expect(r1.body.error.message).toMatch(/policy\.allow\.0\.constraints: min is greater than max/);
    const r2 = await bad({ max_rate: "lots" });
    expect(r2.status).toBe(400);
    expect(r2.body.error.message).toMatch(/max_rate/);
    const ok = await bad({ constraints: required, max_rate: "5/s" });
    expect(ok.status).toBe(201);
    expect(ok.body.policy.allow[0]).toMatchObject({ constraints: required, max_rate: "5/s" });
  });
});
