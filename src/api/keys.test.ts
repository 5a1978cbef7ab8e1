import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness } from "../test/api-harness.js";

let h: ApiHarness;
beforeEach(async () => {
  h = await apiHarness();
});
afterEach(async () => {
  await h.close();
});

const policy = {
  allow: [{ service: "stripe", scopes: ["read:customers"], max_ttl: "10m", max_uses: 5 }],
  agents: ["bot-*"],
};

describe("API keys", () => {
  it("creates a key shown once, lists without it, revokes it", async () => {
    const c = await h.call("POST", "/v1/keys", { body: { name: "orchestrator", role: "issuer", policy } });
    expect(c.status).toBe(201);
    expect(c.body).toEqual({
      id: expect.stringMatching(/^key_/),
      key: expect.stringMatching(/^ank_/),
      name: "orchestrator",
      role: "issuer",
      policy,
      created_at: new Date(h.clock.now()).toISOString(),
    });
    const list = await h.call("GET", "/v1/keys");
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(c.body.key);
    expect(list.body.keys.find((k: { id: string }) => k.id === c.body.id)).toMatchObject({
      name: "orchestrator",
      role: "issuer",
      revoked_at: null,
    });
    const revokedIds: string[] = [];
    h.ctx.events.on("key.revoked", (id) => revokedIds.push(id));
    expect((await h.call("DELETE", `/v1/keys/${c.body.id}`)).status).toBe(204);
    expect(revokedIds).toEqual([c.body.id]);
    expect((await h.call("DELETE", `/v1/keys/${c.body.id}`)).status).toBe(204);
    const types = (await h.ctx.store.listAudit({}, { limit: 10 })).items.map((e) => e.type);
    expect(types.filter((t) => t.startsWith("key."))).toEqual(expect.arrayContaining(["key.created", "key.revoked"]));
    await h.call("GET", "/v1/audit");
    expect(h.transcript.slice(2).join("\n")).not.toContain(c.body.key);
  });

  it("a key cannot revoke itself (409); unknown ids are 404", async () => {
    const self = (await h.call("GET", "/v1/keys")).body.keys[0].id;
    const r = await h.call("DELETE", `/v1/keys/${self}`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("conflict");
    expect((await h.call("DELETE", "/v1/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV")).body.error.code).toBe("key_not_found");
  });

  it.each([
    ["an issuer without a policy", { name: "i", role: "issuer" }, /policy/],
    ["a policy on an admin", { name: "a", role: "admin", policy }, /policy/],
    ["an unknown role", { name: "a", role: "root" }, /role/],
    [
      "an unparsable max_ttl",
      { name: "i", role: "issuer", policy: { allow: [{ service: "s", scopes: ["*"], max_ttl: "soon" }] } },
      /max_ttl/,
    ],
    ["an empty allow list", { name: "i", role: "issuer", policy: { allow: [] } }, /allow/],
    [
      "an unknown policy field",
      { name: "i", role: "issuer", policy: { allow: [{ service: "s", scopes: ["*"], ttl: 5 }] } },
      /ttl/,
    ],
    ["a control character in the name", { name: "a\u0007", role: "admin" }, /name/],
  ])("400 for %s", async (_n, body, message) => {
    const r = await h.call("POST", "/v1/keys", { body });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(message);
  });
});
