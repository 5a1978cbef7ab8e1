import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** Request constraints end to end: a real gateway, a real fake upstream, the nonce's use count in the store. */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const refundOnly = {
  "POST /v1/refunds": { "body.amount": { max: 5000 }, "body.metadata.order_id": { pattern: "ord_[0-9]+" } },
};
const ROUTES = ["POST /v1/refunds", "GET /v1/charges/{id}", "POST /v1/charges"];

async function setup(constraints: Record<string, unknown> = refundOnly, config = {}) {
  h = await startHarness({ config });
  const { token, id } = await h.issue(ROUTES, { constraints });
  const post = (path: string, body: string | Buffer | AsyncIterable<Buffer>, headers: Record<string, string> = {}) =>
    (h as Harness).request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      body: body as never,
    });
  const uses = async () => (await (h as Harness).ctx.store.getNonce(id))?.uses;
  const rejections = async () =>
    (await (h as Harness).ctx.store.listAudit({ nonceId: id, type: "nonce.rejected" }, { limit: 10 })).items;
  return { h, token, id, post, uses, rejections };
}

describe("body constraints", () => {
  it("a refund within the limit is forwarded with exactly the bytes received and its Content-Length", async () => {
    const { h, post, uses } = await setup();
    const body = '{ "metadata": {"order_id":"ord_42"},\n  "amount" : 5000, "note": "caf\u00e9 \\u00e9" }';
    const r = await post("/v1/refunds", body);
    expect(r.status).toBe(200);
    expect(h.upstream.requests).toHaveLength(1);
    const got = h.upstream.requests[0]!;
    expect(got.body.equals(Buffer.from(body))).toBe(true);
    expect(got.headers["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(got.headers["transfer-encoding"]).toBeUndefined();
    expect(got.headers.authorization).toBe(`Bearer ${h.secret}`);
    expect(await uses()).toBe(1);
  });

  it("an over-limit refund is 403 constraint_failed: nothing forwarded, no use counted, audited by field only", async () => {
    const { h, post, uses, rejections } = await setup();
    const r = await post("/v1/refunds", JSON.stringify({ amount: 987654, metadata: { order_id: "ord_1" } }));
    expect(r.status).toBe(403);
    expect(r.headers["x-agent-nonce-error"]).toBe("constraint_failed");
    expect(JSON.parse(r.text).error.message).toMatch(/body\.amount/);
    expect(r.text).not.toContain("987654");
    expect(h.upstream.requests).toHaveLength(0);
    expect(await uses()).toBe(0);
    const events = await rejections();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: "constraint_failed", data: { field: "body.amount" } });
    expect(JSON.stringify(events[0])).not.toContain("987654");
  });

  it("a route-scoped constraint does not block other routes", async () => {
    const { h, token, post, uses } = await setup();
    const get = await h.request("/v1/charges/ch_1", { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(200);
    const big = JSON.stringify({ amount: 10_000_000 });
    const charge = await post("/v1/charges", big);
    expect(charge.status).toBe(200);
    expect(h.upstream.requests.map((q) => q.url)).toEqual(["/v1/charges/ch_1", "/v1/charges"]);
    expect(h.upstream.requests[1]!.body.toString()).toBe(big);
    expect(await uses()).toBe(2);
  });

  it("chunked bodies are read, checked and forwarded with a Content-Length", async () => {
    const { h, post, uses } = await setup();
    const text = JSON.stringify({ amount: 1200, metadata: { order_id: "ord_9" } });
    async function* chunks(s: string) {
      for (let i = 0; i < s.length; i += 7) yield Buffer.from(s.slice(i, i + 7));
    }
    const ok = await post("/v1/refunds", chunks(text));
    expect(ok.status).toBe(200);
    expect(h.upstream.requests[0]!.body.toString()).toBe(text);
    expect(h.upstream.requests[0]!.headers["content-length"]).toBe(String(text.length));
    const over = await post("/v1/refunds", chunks(JSON.stringify({ amount: 5001, metadata: { order_id: "ord_9" } })));
    expect(over.status).toBe(403);
    expect(over.headers["x-agent-nonce-error"]).toBe("constraint_failed");
    expect(h.upstream.requests).toHaveLength(1);
    expect(await uses()).toBe(1);
  });

  it("a body over the constraint read limit is 413 (chunked) before anything is forwarded", async () => {
    const { h, post, uses } = await setup(refundOnly, { gateway: { maxBodyBytes: 1000 } });
    async function* big() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(300, 32);
    }
    const r = await post("/v1/refunds", big());
    expect(r.status).toBe(413);
    expect(h.upstream.requests).toHaveLength(0);
    expect(await uses()).toBe(0);
  });

  it.each([
    ["invalid JSON", '{"amount": 1,', {}],
    [
      "a duplicate key (parsers disagree which wins)",
      '{"amount": 1, "amount": 999999, "metadata": {"order_id": "ord_1"}}',
      {},
    ],
    [
      "an unsupported content type",
      '{"amount": 1, "metadata": {"order_id": "ord_1"}}',
      { "content-type": "text/plain" },
    ],
    ["a content encoding", '{"amount": 1, "metadata": {"order_id": "ord_1"}}', { "content-encoding": "gzip" }],
    [
      "a non-UTF-8 charset",
      '{"amount": 1, "metadata": {"order_id": "ord_1"}}',
      { "content-type": "application/json; charset=latin1" },
    ],
    ["an empty body", "", {}],
    ["a string amount", '{"amount": "1", "metadata": {"order_id": "ord_1"}}', {}],
    ["a missing field", '{"metadata": {"order_id": "ord_1"}}', {}],
  ])("%s cannot be checked: 403 constraint_failed, nothing forwarded", async (_name, body, headers) => {
    const { h, post, uses } = await setup();
    const r = await post("/v1/refunds", body, headers);
    expect(r.status).toBe(403);
    expect(r.headers["x-agent-nonce-error"]).toBe("constraint_failed");
    expect(h.upstream.requests).toHaveLength(0);
    expect(await uses()).toBe(0);
  });

  it("form bodies: Stripe-style nested keys, decimals in full only", async () => {
    const { h, post } = await setup();
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const ok = "amount=5000&metadata[order_id]=ord_7&currency=usd";
    expect((await post("/v1/refunds", ok, form)).status).toBe(200);
    expect(h.upstream.requests[0]!.body.toString()).toBe(ok);
    for (const bad of [
      "amount=5e3&metadata[order_id]=ord_7",
      "amount=5000&metadata[order_id]=ord_7&amount=5001",
      "amount=4000&metadata%5Border_id%5D=evil",
      "amount=0x10&metadata[order_id]=ord_7",
    ]) {
      const r = await post("/v1/refunds", bad, form);
      expect(r.status, bad).toBe(403);
    }
    expect(h.upstream.requests).toHaveLength(1);
  });
});

describe("query constraints", () => {
  it("checks every value of the canonical query; denied requests count no use", async () => {
    const constraints = { "GET /v1/charges/{id}": { "query.limit": { max: 10 } } };
    const { h, token, uses } = await setup(constraints);
    const get = (q: string) => h.request(`/v1/charges/ch_1?${q}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get("limit=10")).status).toBe(200);
    for (const q of ["limit=11", "limit=5&limit=50", "lim%69t=50", "expand=x", "limit=1e1"]) {
      const r = await get(q);
      expect(r.status, q).toBe(403);
      expect(r.headers["x-agent-nonce-error"]).toBe("constraint_failed");
    }
    expect(h.upstream.requests.map((q) => q.url)).toEqual(["/v1/charges/ch_1?limit=10"]);
    expect(await uses()).toBe(1);
  });
});
