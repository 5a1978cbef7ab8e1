import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness } from "../test/api-harness.js";

let h: ApiHarness;
beforeEach(async () => {
  h = await apiHarness();
});
afterEach(async () => {
  await h.close();
});

describe("GET /v1/whoami", () => {
  it("answers each role with its id, name and policy, never the key", async () => {
    const policy = { allow: [{ service: "stripe", scopes: ["read:customers"] }] };
    const issuer = await h.createKey("issuer", policy, "orchestrator");
    const approver = await h.createKey("approver", undefined, "oncall");
    const r = await h.call("GET", "/v1/whoami", { key: issuer.key });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id: issuer.id, name: "orchestrator", type: "api_key", role: "issuer", policy });
    expect(r.text).not.toContain(issuer.key);
    expect((await h.call("GET", "/v1/whoami", { key: approver.key })).body).toMatchObject({
      role: "approver",
      policy: null,
    });
    expect((await h.call("GET", "/v1/whoami")).body).toMatchObject({ role: "admin", name: "root" });
  });

  it("401 without a valid key, and a revoked key is refused", async () => {
    expect((await h.call("GET", "/v1/whoami", { key: null })).status).toBe(401);
    const k = await h.createKey("auditor");
    expect((await h.call("DELETE", `/v1/keys/${k.id}`)).status).toBe(204);
    const r = await h.call("GET", "/v1/whoami", { key: k.key });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("unauthenticated");
  });
});
