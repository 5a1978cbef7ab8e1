import { afterEach, describe, expect, it } from "vitest";
import { MAX_PATTERN_INPUT } from "../core/safe-regex.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/**
 * SECURITY.md rule 12 through the real gateway: a slug pattern that backtracks for seconds on V8 (adjacent
 * quantified atoms, which the old nested-quantifier check let through) is checked on RE2, so a hostile value is
 * refused at once while another agent's request is served. The linear-time proof itself is in
 * core/safe-regex.test.ts (a worker that would hang on a backtracking engine).
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SLUG = "[a-z0-9]*-?[a-z0-9]*-?[a-z0-9]*";

describe("constraint patterns in the gateway", () => {
  it("a hostile value against a slug pattern is refused, and a concurrent request is served meanwhile", async () => {
    h = await startHarness();
    const hostile = await h.issue(["GET /v1/customers"], {
      constraints: { "query.slug": { pattern: SLUG } },
    });
    const other = await h.issue(["GET /v1/balance"]);
    const value = `${"a".repeat(MAX_PATTERN_INPUT - 1)}!`;
    const [refused, served] = await Promise.all([
      h.request(`/v1/customers?slug=${value}`, { headers: { authorization: `Bearer ${hostile.token}` } }),
      h.request("/v1/balance", { headers: { authorization: `Bearer ${other.token}` } }),
    ]);
    expect(refused.status).toBe(403);
    expect(refused.headers["x-agent-nonce-error"]).toBe("constraint_failed");
    expect(served.status).toBe(200);
    expect(h.upstream.requests.map((r) => r.url)).toEqual(["/v1/balance"]);

    const ok = await h.request("/v1/customers?slug=agent-nonce-42", {
      headers: { authorization: `Bearer ${hostile.token}` },
    });
    expect(ok.status).toBe(200);
  });
});
