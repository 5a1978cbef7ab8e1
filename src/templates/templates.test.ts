import { describe, expect, it } from "vitest";
import { validateAuth } from "../app/services.js";
import { validateUpstream } from "../app/upstream.js";
import { compileRoutes, resolveScopes, validateCatalog } from "../core/scopes.js";
import { getTemplate, listTemplates } from "./index.js";

describe("service templates", () => {
  it.each(listTemplates().map((t) => [t.name, t] as const))("%s is a valid, public-https service", (_n, t) => {
    expect(t.source).toMatch(/^https:\/\//);
    expect(() => validateCatalog(t.scopes)).not.toThrow();
    expect(validateUpstream(t.upstream, false)).toBe(t.upstream);
    expect(validateAuth(t.auth)).toEqual(t.auth);
    expect(Object.keys(t.scopes).length).toBeGreaterThan(0);
  });

  it("stripe scopes follow restricted-key permissions", () => {
    const s = getTemplate("stripe");
    expect(s?.upstream).toBe("https://api.stripe.com");
    const catalog = s?.scopes ?? {};
    for (const r of [
      "customers",
      "charges",
      "refunds",
      "payment_intents",
      "invoices",
      "subscriptions",
      "products",
      "prices",
    ]) {
      expect(catalog[`read:${r}`], r).toBeDefined();
      expect(catalog[`write:${r}`], r).toBeDefined();
      expect(catalog[`read:${r}`]?.every((x) => x.startsWith("GET "))).toBe(true);
      expect(catalog[`write:${r}`]?.some((x) => x.startsWith("GET "))).toBe(false);
    }
    expect(catalog["read:balance"]).toBeDefined();
    expect(catalog["write:balance"]).toBeUndefined();
    const read = compileRoutes(resolveScopes(catalog, ["read:customers"], false));
    expect(read.match("GET", ["v1", "customers", "cus_123"])).toBe(true);
    expect(read.match("GET", ["v1", "customers", "search"])).toBe(true);
    expect(read.match("POST", ["v1", "customers"])).toBe(false);
    expect(read.match("GET", ["v1", "charges"])).toBe(false);
  });

  it("slack's chat:write posts messages and github's issues:read reads issues", () => {
    const slack = compileRoutes(resolveScopes(getTemplate("slack")?.scopes ?? {}, ["chat:write"], false));
    expect(slack.match("POST", ["api", "chat.postMessage"])).toBe(true);
    expect(slack.match("POST", ["api", "conversations.list"])).toBe(false);
    const gh = compileRoutes(resolveScopes(getTemplate("github")?.scopes ?? {}, ["issues:read"], false));
    expect(gh.match("GET", ["repos", "o", "r", "issues", "12"])).toBe(true);
    expect(gh.match("POST", ["repos", "o", "r", "issues"])).toBe(false);
  });
});
