import { describe, expect, it } from "vitest";
import type { IssuerPolicy } from "../core/types.js";
import { checkIssuerPolicy, globToRegExp, validatePolicy } from "./policy.js";

const policy: IssuerPolicy = {
  allow: [
    { service: "stripe", scopes: ["read:customers", "read:charges"], max_ttl: "10m", max_uses: 50 },
    { service: "github", scopes: ["*"] },
    { service: "internal", scopes: ["read:things"], allow_routes: true },
  ],
  agents: ["billing-*", "support-bot"],
};

const ask = (over: Partial<Parameters<typeof checkIssuerPolicy>[1]> = {}) => ({
  service: "stripe",
  scopes: ["read:customers"],
  ttlMs: 300_000,
  maxUses: null,
  agent: "billing-bot",
  ...over,
});

describe("checkIssuerPolicy", () => {
  it("a rule naming a scope family (tool:*) admits its members; a rule naming one member admits only it", () => {
    const mcp: IssuerPolicy = {
      allow: [
        { service: "tools", scopes: ["tool:*"] },
        { service: "search", scopes: ["tool:search", "mcp:resources"] },
      ],
    };
    const a = (service: string, scopes: string[]) => checkIssuerPolicy(mcp, ask({ service, scopes }));
    expect(a("tools", ["tool:search", "tool:delete_all"])).toMatchObject({ ok: true });
    expect(a("tools", ["mcp:prompts"])).toMatchObject({ ok: false, reason: "scope_not_allowed" });
    expect(a("search", ["tool:search", "mcp:resources"])).toMatchObject({ ok: true });
    expect(a("search", ["tool:fetch"])).toMatchObject({ ok: false, reason: "scope_not_allowed" });
    expect(a("search", ["tool:*"])).toMatchObject({ ok: false, reason: "scope_not_allowed" });
  });

  it("admits a request inside a rule and defaults max_uses to the rule's maximum", () => {
    expect(checkIssuerPolicy(policy, ask())).toEqual({
      ok: true,
      ttlMs: 300_000,
      maxUses: 50,
      allowRoutes: false,
      rate: null,
      constraints: null,
    });
    expect(checkIssuerPolicy(policy, ask({ maxUses: 7 }))).toEqual({
      ok: true,
      ttlMs: 300_000,
      maxUses: 7,
      allowRoutes: false,
      rate: null,
      constraints: null,
    });
  });

  it("leaves max_uses unlimited when the rule sets none", () => {
    expect(checkIssuerPolicy(policy, ask({ service: "github", scopes: ["issues:read"] }))).toMatchObject({
      ok: true,
      maxUses: null,
    });
  });

  it.each([
    ["service_not_allowed", { service: "slack" }],
    ["scope_not_allowed", { scopes: ["read:customers", "write:customers"] }],
    ["ttl_exceeds_policy", { ttlMs: 600_001 }],
    ["max_uses_exceeds_policy", { maxUses: 51 }],
    ["agent_not_allowed", { agent: "evil-billing-bot" }],
    ["routes_not_allowed", { scopes: ["GET /v1/customers"] }],
  ] as const)("denies %s", (reason, over) => {
    const d = checkIssuerPolicy(policy, ask(over));
    expect(d).toMatchObject({ ok: false, reason });
    if (!d.ok) expect(d.message.length).toBeGreaterThan(0);
  });

  it("shortens a defaulted ttl to the rule's max_ttl instead of denying; an explicit one is denied", () => {
    expect(checkIssuerPolicy(policy, ask({ ttlMs: 3_600_000, ttlDefaulted: true }))).toMatchObject({
      ok: true,
      ttlMs: 600_000,
    });
    expect(checkIssuerPolicy(policy, ask({ ttlMs: 3_600_000 }))).toMatchObject({ ok: false });
  });

  it("admits a ttl exactly at the policy maximum", () => {
    expect(checkIssuerPolicy(policy, ask({ ttlMs: 600_000 })).ok).toBe(true);
  });

  it("allows raw routes only under a rule with allow_routes", () => {
    const d = checkIssuerPolicy(policy, ask({ service: "internal", scopes: ["GET /v1/things/{id}", "read:things"] }));
    expect(d).toEqual({ ok: true, ttlMs: 300_000, maxUses: null, allowRoutes: true, rate: null, constraints: null });
  });

  it("a wildcard scope rule does not admit raw routes", () => {
    const d = checkIssuerPolicy(policy, ask({ service: "github", scopes: ["GET /user"] }));
    expect(d).toMatchObject({ ok: false, reason: "routes_not_allowed" });
  });

  it("denies everything without a policy", () => {
    expect(checkIssuerPolicy(null, ask())).toMatchObject({ ok: false, reason: "service_not_allowed" });
  });

  it("tries every rule for the service before denying", () => {
    const two: IssuerPolicy = {
      allow: [
        { service: "stripe", scopes: ["read:customers"], max_uses: 1 },
        { service: "stripe", scopes: ["read:customers"], max_uses: 10 },
      ],
    };
    expect(checkIssuerPolicy(two, ask({ maxUses: 5 }))).toMatchObject({ ok: true, maxUses: 5 });
    expect(checkIssuerPolicy(two, ask({ maxUses: 11 }))).toMatchObject({
      ok: false,
      reason: "max_uses_exceeds_policy",
    });
  });

  it("any agent is allowed when the policy lists no agent globs", () => {
    const open: IssuerPolicy = { allow: [{ service: "stripe", scopes: ["*"] }] };
    expect(checkIssuerPolicy(open, ask({ agent: "anything at all" })).ok).toBe(true);
  });
});

describe("globToRegExp", () => {
  it("treats only * as a wildcard", () => {
    expect(globToRegExp("bot.*").test("bot.1")).toBe(true);
    expect(globToRegExp("bot.*").test("botx1")).toBe(false);
    expect(globToRegExp("a(b)+").test("a(b)+")).toBe(true);
    expect(globToRegExp("a(b)+").test("abb")).toBe(false);
    expect(globToRegExp("*").test("")).toBe(true);
    expect(globToRegExp("x*z").test("x\nz")).toBe(true);
  });
});

describe("validatePolicy", () => {
  it("rejects an unparsable max_ttl, naming the field", () => {
    expect(() => validatePolicy({ allow: [{ service: "s", scopes: ["*"], max_ttl: "soon" }] })).toThrow(
      /policy\.allow\.0\.max_ttl/,
    );
    expect(() => validatePolicy({ allow: [{ service: "s", scopes: ["*"], max_ttl: 60 }] })).not.toThrow();
  });
});

describe("rule constraints and max_rate", () => {
  const constraints = { "body.amount": { max: 5000 } };
  const limited: IssuerPolicy = {
    allow: [{ service: "stripe", scopes: ["read:customers"], constraints, max_rate: "60/m" }],
  };

  it("hands the rule's constraints back for merging, and defaults the rate to max_rate", () => {
    expect(checkIssuerPolicy(limited, ask())).toMatchObject({ ok: true, rate: "60/m", constraints });
  });

  it.each([
    ["60/m", true],
    ["1/s", true],
    ["30/m", true],
    ["1/h", true],
    ["61/m", false],
    ["2/s", false],
    // Sustained 100/h is slower than 60/m, but a burst of 100 is looser than 60.
    ["100/h", false],
  ])("rate %s within max_rate 60/m: %s", (rate, ok) => {
    const d = checkIssuerPolicy(limited, ask({ rate }));
    if (ok) expect(d).toMatchObject({ ok: true, rate });
    else expect(d).toMatchObject({ ok: false, reason: "rate_exceeds_policy" });
  });

  it("keeps the requested rate (or none) under a rule without max_rate", () => {
    expect(checkIssuerPolicy(policy, ask({ rate: "1000/s" }))).toMatchObject({ ok: true, rate: "1000/s" });
    expect(checkIssuerPolicy(policy, ask())).toMatchObject({ ok: true, rate: null, constraints: null });
  });

  it("validatePolicy rejects bad constraints and max_rate, naming the field", () => {
    const rule = { service: "s", scopes: ["*"] };
    expect(() => validatePolicy({ allow: [rule, { ...rule, max_rate: "60/min" }] })).toThrow(
      /policy\.allow\.1\.max_rate/,
    );
    expect(() => validatePolicy({ allow: [{ ...rule, constraints: { "body.x": { regex: "a" } } }] })).toThrow(
      /policy\.allow\.0\.constraints: unknown operator "regex"/,
    );
    expect(() =>
      validatePolicy({ allow: [{ ...rule, constraints: { "GET /a": { "query.q": { pattern: "(a)\\1" } } } }] }),
    ).toThrow(
      expect.objectContaining({ code: "pattern_unsupported", message: expect.stringMatching(/backreference/) }),
    );
    expect(() => validatePolicy({ allow: [{ ...rule, constraints, max_rate: "5/s" }] })).not.toThrow();
  });
});
