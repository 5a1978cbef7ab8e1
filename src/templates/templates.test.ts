import { describe, expect, it } from "vitest";
import { validateAuth } from "../app/services.js";
import { validateUpstream } from "../app/upstream.js";
import { compileRoutes, parseRoute, resolveScopes, validateCatalog } from "../core/scopes.js";
import { canonicalizeTarget } from "../gateway/canonical-path.js";
import { getTemplate, listTemplates } from "./index.js";

/** Does a nonce with `scopes` from template `name` allow `METHOD /path`? (The gateway's matcher, not a copy.) */
function allows(name: string, scopes: string[], request: string): boolean {
  const t = getTemplate(name);
  if (!t) throw new Error(`no template ${name}`);
  const [method, target] = request.split(" ") as [string, string];
  const canonical = canonicalizeTarget(target);
  if ("error" in canonical) throw new Error(canonical.error);
  const m = compileRoutes(resolveScopes(t.scopes, scopes, false));
  return m.match(method, canonical.segments, canonical.encodedSlashFrom);
}

function scopesOf(name: string): Record<string, string[]> {
  return getTemplate(name)?.scopes ?? {};
}

// Routes a vendor grants at read level although the method is not GET (access level is not the HTTP method).
const READ_LEVEL_NON_GET: Record<string, RegExp> = {
  github: /^POST \/repos\/\{owner\}\/\{repo\}\/commits\/\{commit_sha\}\/comments$/,
  slack: /^POST \/api\/[a-zA-Z.]+$/,
  openai: /^POST \/v1\/vector_stores\/\{vector_store_id\}\/search$/,
};

// Route-scoped templates; the aws template's catalog holds IAM actions (src/core/aws/aws.test.ts checks it).
const routeTemplates = () => listTemplates().filter((t) => t.auth.type !== "aws_sigv4");

describe("service templates", () => {
  it.each(routeTemplates().map((t) => [t.name, t] as const))("%s is a valid, public-https service", (_n, t) => {
    expect(t.source).toMatch(/^https:\/\//);
    expect(() => validateCatalog(t.scopes)).not.toThrow();
    // Only the mcp template names no host: every MCP server has its own.
    if (t.name === "mcp") expect(t.upstream).toBeUndefined();
    else expect(validateUpstream(t.upstream ?? "", false)).toBe(t.upstream);
    expect(validateAuth(t.auth)).toEqual(t.auth);
    expect(t.auth).toEqual({ type: "bearer" });
    expect(Object.keys(t.scopes).length).toBeGreaterThan(0);
  });

  it.each(routeTemplates().map((t) => [t.name, t] as const))(
    "%s: read scopes only read, write scopes never GET",
    (name, t) => {
      for (const [scope, routes] of Object.entries(t.scopes)) {
        expect(new Set(routes).size, `${scope} has duplicate routes`).toBe(routes.length);
        for (const r of routes) parseRoute(r);
        if (/[:_]read(\.|$)/.test(scope) || scope.startsWith("read:")) {
          const odd = routes.filter((r) => !r.startsWith("GET ") && !READ_LEVEL_NON_GET[name]?.test(r));
          expect(odd, `${name} ${scope}`).toEqual([]);
        }
        if (/:write$/.test(scope) || scope.startsWith("write:") || /:request$/.test(scope)) {
          expect(
            routes.filter((r) => r.startsWith("GET ")),
            `${name} ${scope}`,
          ).toEqual([]);
        }
      }
    },
  );

  it("stripe: read:/write: per restricted-key resource; write grants only mutating routes", () => {
    const catalog = scopesOf("stripe");
    expect(getTemplate("stripe")?.upstream).toBe("https://api.stripe.com");
    for (const r of [
      "customers",
      "charges",
      "refunds",
      "payment_intents",
      "setup_intents",
      "payment_methods",
      "invoices",
      "subscriptions",
      "products",
      "prices",
      "checkout_sessions",
    ]) {
      expect(catalog[`read:${r}`], r).toBeDefined();
      expect(catalog[`write:${r}`], r).toBeDefined();
    }
    for (const r of ["balance", "events"]) {
      expect(catalog[`read:${r}`], r).toBeDefined();
      expect(catalog[`write:${r}`], r).toBeUndefined();
    }
    expect(allows("stripe", ["read:customers"], "GET /v1/customers/cus_123")).toBe(true);
    expect(allows("stripe", ["read:customers"], "GET /v1/customers/search")).toBe(true);
    expect(allows("stripe", ["read:customers"], "POST /v1/customers")).toBe(false);
    expect(allows("stripe", ["read:customers"], "GET /v1/charges")).toBe(false);
    expect(allows("stripe", ["write:customers"], "GET /v1/customers/cus_1")).toBe(false);
    expect(allows("stripe", ["read:customers", "write:customers"], "GET /v1/customers/cus_1")).toBe(true);
    expect(allows("stripe", ["write:refunds"], "POST /v1/refunds")).toBe(true);
    expect(allows("stripe", ["write:checkout_sessions"], "POST /v1/checkout/sessions/cs_1/expire")).toBe(true);
    expect(allows("stripe", ["read:payment_methods"], "GET /v1/customers/cus_1/payment_methods")).toBe(true);
    expect(allows("stripe", ["read:customers"], "GET /v1/customers/cus_1/payment_methods")).toBe(false);
    expect(allows("stripe", ["read:events"], "GET /v1/events/evt_1")).toBe(true);
  });

  it("github: fine-grained permission names, access level from GitHub's tables, not the method", () => {
    const catalog = scopesOf("github");
    for (const p of ["issues", "contents", "pull_requests", "actions", "checks", "statuses"]) {
      expect(catalog[`${p}:read`], p).toBeDefined();
      expect(catalog[`${p}:write`], p).toBeDefined();
    }
    expect(catalog["metadata:read"]).toBeDefined();
    expect(allows("github", ["issues:read"], "GET /repos/o/r/issues")).toBe(true);
    expect(allows("github", ["issues:read"], "GET /repos/o/r/issues/12")).toBe(true);
    expect(allows("github", ["issues:read"], "POST /repos/o/r/issues")).toBe(false);
    expect(allows("github", ["issues:write"], "POST /repos/o/r/issues")).toBe(true);
    // Locking is a PUT, and GitHub lists it under Issues: write.
    expect(allows("github", ["issues:write"], "PUT /repos/o/r/issues/12/lock")).toBe(true);
    expect(allows("github", ["issues:read"], "PUT /repos/o/r/issues/12/lock")).toBe(false);
    // A POST that GitHub grants at Contents: read.
    expect(allows("github", ["contents:read"], "POST /repos/o/r/commits/abc123/comments")).toBe(true);
    // Merging a pull request is Contents: write, not Pull requests: write.
    expect(allows("github", ["contents:write"], "PUT /repos/o/r/pulls/7/merge")).toBe(true);
    expect(allows("github", ["pull_requests:write"], "PUT /repos/o/r/pulls/7/merge")).toBe(false);
    // Branches are Contents, not Metadata.
    expect(allows("github", ["contents:read"], "GET /repos/o/r/branches/main")).toBe(true);
    expect(allows("github", ["metadata:read"], "GET /repos/o/r/branches")).toBe(false);
    expect(allows("github", ["contents:read"], "GET /repos/o/r/contents/docs/guide/a.md")).toBe(true);
    expect(allows("github", ["contents:read"], "GET /repos/o/r/contents")).toBe(true);
    expect(allows("github", ["contents:read"], "PUT /repos/o/r/contents/a.md")).toBe(false);
    // Octokit encodes '/' inside {path} and {ref} as %2F: accepted where the route ends in ** (issue 11 part 6).
    expect(allows("github", ["contents:read"], "GET /repos/o/r/contents/docs%2Fguide%2Fa.md")).toBe(true);
    expect(allows("github", ["contents:write"], "PUT /repos/o/r/contents/docs%2Fguide%2Fa.md")).toBe(true);
    expect(allows("github", ["contents:read"], "GET /repos/o/r/git/ref/heads%2Ffeature%2Fx")).toBe(true);
    expect(allows("github", ["contents:write"], "PATCH /repos/o/r/git/refs/heads%2Ffeature%2Fx")).toBe(true);
    expect(allows("github", ["contents:read"], "GET /repos/o/r/git/trees/feature%2Fx")).toBe(true);
    expect(allows("github", ["contents:read"], "GET /repos/o/r/compare/main...feature%2Fx")).toBe(true);
    expect(allows("github", ["contents:read"], "GET /repos/o/r/tarball/release%2F1.0")).toBe(true);
    // ...and nowhere else: not in {branch}, not standing in for the route's own segments.
    expect(allows("github", ["contents:read"], "GET /repos/o/r/branches/feature%2Fx")).toBe(false);
    expect(allows("github", ["contents:read"], "GET /repos/o/r%2Fcontents/a.md")).toBe(false);
    expect(allows("github", ["issues:read"], "GET /repos/o/r/issues%2F2")).toBe(false);
    expect(allows("github", ["actions:write"], "POST /repos/o/r/actions/workflows/ci.yml/dispatches")).toBe(true);
    expect(allows("github", ["actions:read"], "POST /repos/o/r/actions/workflows/ci.yml/dispatches")).toBe(false);
    expect(allows("github", ["checks:write"], "POST /repos/o/r/check-runs")).toBe(true);
    expect(allows("github", ["statuses:write"], "POST /repos/o/r/statuses/abc")).toBe(true);
    expect(allows("github", ["statuses:read"], "GET /repos/o/r/commits/main/status")).toBe(true);
    // GraphQL carries every query and mutation on one route: no scope can describe it.
    const all = Object.keys(catalog);
    expect(allows("github", all, "POST /graphql")).toBe(false);
    expect(
      Object.values(catalog)
        .flat()
        .some((r) => r.includes("graphql")),
    ).toBe(false);
  });

  it("slack: OAuth scope names over /api/<method>; read methods by GET or POST, writes by POST", () => {
    expect(getTemplate("slack")?.upstream).toBe("https://slack.com");
    expect(allows("slack", ["chat:write"], "POST /api/chat.postMessage")).toBe(true);
    expect(allows("slack", ["chat:write"], "GET /api/chat.postMessage")).toBe(false);
    expect(allows("slack", ["chat:write"], "POST /api/conversations.list")).toBe(false);
    expect(allows("slack", ["channels:read"], "POST /api/conversations.list")).toBe(true);
    expect(allows("slack", ["channels:read"], "GET /api/conversations.list")).toBe(true);
    expect(allows("slack", ["channels:read"], "POST /api/conversations.history")).toBe(false);
    expect(allows("slack", ["channels:history"], "POST /api/conversations.replies")).toBe(true);
    expect(allows("slack", ["users:read"], "POST /api/users.lookupByEmail")).toBe(false);
    expect(allows("slack", ["users:read.email"], "POST /api/users.lookupByEmail")).toBe(true);
    expect(allows("slack", ["reactions:write"], "POST /api/reactions.add")).toBe(true);
    expect(allows("slack", ["files:write"], "POST /api/files.completeUploadExternal")).toBe(true);
    expect(allows("slack", ["files:read"], "POST /api/files.delete")).toBe(false);
  });

  it("openai: List models, Model capabilities (all or one), and read/write per stored resource", () => {
    expect(allows("openai", ["models:read"], "GET /v1/models/gpt-4o")).toBe(true);
    expect(allows("openai", ["models:read"], "DELETE /v1/models/ft-1")).toBe(false);
    expect(allows("openai", ["model_capabilities:request"], "POST /v1/chat/completions")).toBe(true);
    expect(allows("openai", ["model_capabilities:request"], "POST /v1/embeddings")).toBe(true);
    expect(allows("openai", ["model_capabilities:request"], "GET /v1/models")).toBe(false);
    expect(allows("openai", ["chat_completions:request"], "POST /v1/chat/completions")).toBe(true);
    expect(allows("openai", ["chat_completions:request"], "POST /v1/responses")).toBe(false);
    expect(allows("openai", ["chat_completions:request"], "GET /v1/files")).toBe(false);
    expect(allows("openai", ["files:read"], "GET /v1/files/file-1/content")).toBe(true);
    expect(allows("openai", ["files:read"], "POST /v1/files")).toBe(false);
    expect(allows("openai", ["files:write"], "POST /v1/files")).toBe(true);
    expect(allows("openai", ["threads:write"], "POST /v1/threads/th_1/runs/run_1/submit_tool_outputs")).toBe(true);
    expect(allows("openai", ["assistants:read"], "POST /v1/assistants")).toBe(false);
    expect(allows("openai", ["batch:write"], "POST /v1/batches/b_1/cancel")).toBe(true);
    expect(allows("openai", ["fine_tuning:read"], "GET /v1/fine_tuning/jobs/ftjob-1/events")).toBe(true);
    expect(allows("openai", ["vector_stores:read"], "POST /v1/vector_stores/vs_1/search")).toBe(true);
    expect(allows("openai", ["vector_stores:read"], "POST /v1/vector_stores/vs_1/files")).toBe(false);
  });

  it("mcp: tool:<name> (a family under tool:*), mcp:resources and mcp:prompts all reach the server's endpoint", () => {
    const t = getTemplate("mcp");
    expect(t?.upstream).toBeUndefined();
    const routes = resolveScopes(scopesOf("mcp"), ["tool:search", "tool:fetch"], false);
    expect(routes).toEqual(["POST /**", "GET /**", "DELETE /**"]);
    expect(allows("mcp", ["tool:search"], "POST /mcp")).toBe(true);
    expect(allows("mcp", ["tool:search"], "GET /mcp")).toBe(true);
    expect(allows("mcp", ["mcp:prompts"], "DELETE /mcp")).toBe(true);
    expect(allows("mcp", ["tool:search"], "PUT /mcp")).toBe(false);
    // Which tool, resource or prompt is decided per JSON-RPC message by the gateway (gateway/mcp/), not by routes.
    expect(() => resolveScopes(scopesOf("mcp"), ["mcp:everything"], false)).toThrow(/unknown scope/);
    expect(() => resolveScopes(scopesOf("mcp"), ["tool:a b"], false)).toThrow(/unknown scope/);
    expect(() => resolveScopes(scopesOf("stripe"), ["read:anything_else"], false)).toThrow(/unknown scope/);
  });
});
