import { afterEach, describe, expect, it } from "vitest";
import type { FakeUpstreamHandler } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/**
 * SECURITY.md rule 11 end to end, "a constraint sees what the upstream will see": a real gateway in front of a
 * real upstream on loopback. Each bypass is refused before anything reaches the upstream.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Go's encoding/json: keys match a struct field case-insensitively under simple folding, and the last one wins. */
function goFold(k: string): string {
  return k
    .replace(/\u017f/g, "s")
    .replace(/\u212a/g, "k")
    .toLowerCase();
}
const goLikeReader: FakeUpstreamHandler = (req, res) => {
  let amount: unknown = null;
  for (const [k, v] of Object.entries(JSON.parse(req.body.toString() || "{}") as Record<string, unknown>)) {
    if (goFold(k) === "amount") amount = v;
  }
  const body = JSON.stringify({ amount });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
};

const REFUNDS = { "POST /v1/refunds": { "body.amount": { max: 5000 } } };
const JSON_T = { "content-type": "application/json" };
const FORM_T = { "content-type": "application/x-www-form-urlencoded" };

async function setup(routes: string[], constraints: Record<string, unknown> | undefined, opts = {}) {
  h = await startHarness(opts);
  const { token, id } = await h.issue(routes, constraints ? { constraints } : {});
  const send = (method: string, path: string, body: string | AsyncIterable<Buffer> | null, headers = {}) =>
    (h as Harness).request(path, {
      method: method as "POST",
      headers: { authorization: `Bearer ${token}`, ...headers },
      ...(body === null ? {} : { body: body as never }),
    });
  const uses = async () => (await (h as Harness).ctx.store.getNonce(id))?.uses;
  const rejected = async () =>
    (await (h as Harness).ctx.store.listAudit({ nonceId: id, type: "nonce.rejected" }, { limit: 20 })).items;
  return { h, send, uses, rejected };
}

describe("a Go-like upstream (case-insensitive keys, last wins)", () => {
  it("would use AMOUNT; the gateway refuses the body before it gets there", async () => {
    const { h, send, uses } = await setup(["POST /v1/refunds"], REFUNDS, { handler: goLikeReader });
    const ok = await send("POST", "/v1/refunds", '{"amount": 4000}', JSON_T);
    expect(JSON.parse(ok.text)).toEqual({ amount: 4000 });
    for (const bypass of [
      '{"amount": 1, "AMOUNT": 999999}',
      '{"amount": 1, "Amount": 999999}',
      '{"amount": 1, "\\u0041mount": 999999}',
      '{"amount": 1, "amount": 999999}',
      '{"amount": 1, "\\u0061mount": 999999}',
    ]) {
      // The upstream, asked directly, would have refunded 999999 (the test is not vacuous)...
      const direct = await fetch(`${h.upstream.url}/v1/refunds`, { method: "POST", body: bypass, headers: JSON_T });
      expect(((await direct.json()) as { amount: number }).amount, bypass).toBe(999999);
      h.upstream.requests.length = 1;
      // ...but through the gateway it never sees the body.
      const r = await send("POST", "/v1/refunds", bypass, JSON_T);
      expect(r.status, bypass).toBe(403);
      expect(r.headers["x-agent-nonce-error"]).toBe("constraint_failed");
      expect(h.upstream.requests, bypass).toHaveLength(1);
    }
    expect(await uses()).toBe(1);
  });

  it("Unicode folds: ſ (U+017F) and K (U+212A) name the constrained key to Go", async () => {
    const constraints = { "POST /v1/refunds": { "body.status": { eq: "ok" }, "body.key": { eq: "k1" } } };
    const { h, send } = await setup(["POST /v1/refunds"], constraints);
    expect((await send("POST", "/v1/refunds", '{"status":"ok","key":"k1"}', JSON_T)).status).toBe(200);
    for (const bypass of [
      '{"status":"ok","key":"k1","\u017ftatus":"no"}',
      '{"status":"ok","key":"k1","\u212aey":"k9"}',
    ]) {
      expect((await send("POST", "/v1/refunds", bypass, JSON_T)).status, bypass).toBe(403);
    }
    expect(h.upstream.requests).toHaveLength(1);
  });
});

describe("the same field in the query and the body", () => {
  it("a body-constrained field in the query, a query-constrained field in the body", async () => {
    const constraints = { "POST /v1/refunds": { "body.amount": { max: 5000 }, "query.limit": { max: 10 } } };
    const { h, send, rejected } = await setup(["POST /v1/refunds"], constraints);
    expect((await send("POST", "/v1/refunds?limit=5&amount=4000", '{"amount": 4000}', JSON_T)).status).toBe(200);
    const cases: Array<[string, string, Record<string, string>, string]> = [
      ["/v1/refunds?limit=5&amount=999999", '{"amount": 4000}', JSON_T, "body.amount"],
      ["/v1/refunds?limit=5&AMOUNT=999999", '{"amount": 4000}', JSON_T, "body.amount"],
      ["/v1/refunds?limit=5", '{"amount": 4000, "limit": 500}', JSON_T, "query.limit"],
      ["/v1/refunds?limit=5", "amount=4000&limit=500", FORM_T, "query.limit"],
      ["/v1/refunds?limit=5", '{"amount": 4000, "limit": 500}', { "content-type": "text/plain" }, "body.amount"],
    ];
    for (const [path, body, headers, field] of cases) {
      const r = await send("POST", path, body, headers);
      expect(r.status, `${path} ${body}`).toBe(403);
      expect(JSON.parse(r.text).error.message).toContain(field);
    }
    expect(h.upstream.requests).toHaveLength(1);
    expect((await rejected()).map((e) => e.data?.field)).toEqual(cases.map((c) => c[3]));
  });

  it("a query-constrained route with a body of another type: a JSON object in it is still checked", async () => {
    const constraints = { "POST /v1/uploads": { "query.limit": { max: 10 } } };
    const { h, send } = await setup(["POST /v1/uploads"], constraints);
    const octet = { "content-type": "application/octet-stream" };
    expect((await send("POST", "/v1/uploads?limit=1", "\u0001binary", octet)).status).toBe(200);
    expect((await send("POST", "/v1/uploads?limit=1", '{"limit": 500}', octet)).status).toBe(403);
    expect(h.upstream.requests.map((r) => r.body.toString())).toEqual(["\u0001binary"]);
  });
});

describe("repeated form fields and exact numbers", () => {
  it("every value of a repeated form field must pass, first or last", async () => {
    const { h, send } = await setup(["POST /v1/refunds"], REFUNDS);
    expect((await send("POST", "/v1/refunds", "amount=1&amount=4000", FORM_T)).status).toBe(200);
    for (const body of ["amount=1&amount=999999", "amount=999999&amount=1", "amount[]=1&amount[]=999999"]) {
      expect((await send("POST", "/v1/refunds", body, FORM_T)).status, body).toBe(403);
    }
    expect(h.upstream.requests).toHaveLength(1);
  });

  it("no double rounding: 5000.00000000000000001 is over max 5000; 5e3 is 5000", async () => {
    const constraints = { "POST /v1/refunds": { "body.amount": { max: 5000 }, "body.id": { in: [9007199254740991] } } };
    const { h, send } = await setup(["POST /v1/refunds"], constraints);
    const ok = '{"amount": 5e3, "id": 9007199254740991}';
    expect((await send("POST", "/v1/refunds", ok, JSON_T)).status).toBe(200);
    for (const body of [
      '{"amount": 5000.00000000000000001, "id": 9007199254740991}',
      '{"amount": 5000, "id": 9007199254740991.0000001}',
    ]) {
      expect(JSON.parse(body)).toEqual(JSON.parse(ok)); // what a double-based check would have seen
      expect((await send("POST", "/v1/refunds", body, JSON_T)).status, body).toBe(403);
    }
    expect(h.upstream.requests.map((r) => r.body.toString())).toEqual([ok]);
  });
});

describe("method override (_method)", () => {
  it("in the query: 400 for every nonce, nothing forwarded, no use counted", async () => {
    const { h, send, uses } = await setup(["* /v1/**"], undefined);
    for (const q of ["_method=DELETE", "_METHOD=delete", "%5Fmethod=DELETE", "a=1;_method=DELETE"]) {
      const r = await send("GET", `/v1/charges?${q}`, null);
      expect(r.status, q).toBe(400);
      expect(JSON.parse(r.text).error.message).toMatch(/_method/);
    }
    expect(h.upstream.requests).toHaveLength(0);
    expect(await uses()).toBe(0);
  });

  it("in a POST body where the nonce does not allow every method: 400 and audited", async () => {
    const { h, send, uses, rejected } = await setup(["POST /v1/refunds", "GET /v1/refunds"], undefined);
    const mp = '--B\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--B--\r\n';
    const bodies: Array<[string, Record<string, string>]> = [
      ["amount=1&_method=DELETE", FORM_T],
      ["_method=DELETE", {}],
      ['{"amount":1,"_METHOD":"DELETE"}', JSON_T],
      [mp, { "content-type": "multipart/form-data; boundary=B" }],
    ];
    for (const [body, headers] of bodies) {
      const r = await send("POST", "/v1/refunds", body, headers);
      expect(r.status, body).toBe(400);
    }
    expect((await send("POST", "/v1/refunds", "amount=1", FORM_T)).status).toBe(200);
    expect(h.upstream.requests).toHaveLength(1);
    expect(await uses()).toBe(1);
    expect((await rejected()).map((e) => e.reason)).toEqual(bodies.map(() => "method_override"));
  });

  it("a body too large to inspect is refused (413) where an override matters", async () => {
    const { h, send } = await setup(["POST /v1/refunds"], undefined, { config: { gateway: { maxBodyBytes: 1000 } } });
    async function* big() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(300, 0x61);
    }
    expect((await send("POST", "/v1/refunds", big(), FORM_T)).status).toBe(413);
    expect(h.upstream.requests).toHaveLength(0);
  });

  it("fast path: where an override cannot matter the body is not read (it streams past the 1 MiB inspection cap)", async () => {
    const config = { gateway: { maxBodyBytes: 4 * 1024 * 1024 } };
    async function* big() {
      for (let i = 0; i < 2048; i++) yield Buffer.from(`${"a".repeat(1000)}&_method=DELETE&`);
    }
    const any = await setup(["* /v1/**"], undefined, { config });
    expect((await any.send("POST", "/v1/refunds", big(), FORM_T)).status).toBe(200);
    expect(any.h.upstream.requests[0]?.body.length).toBeGreaterThan(2_000_000);
    await any.h.close();
    const postOnly = await setup(["POST /v1/refunds"], undefined, { config });
    expect((await postOnly.send("POST", "/v1/refunds", big(), FORM_T)).status).toBe(413);
    expect(
      (await postOnly.send("POST", "/v1/refunds", big(), { "content-type": "application/octet-stream" })).status,
    ).toBe(200);
    expect(postOnly.h.upstream.requests).toHaveLength(1);
  });
});
