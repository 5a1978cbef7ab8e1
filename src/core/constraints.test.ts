import { describe, expect, it } from "vitest";
import { compileConstraints } from "./constraint-check.js";
import { mergeConstraints, parseConstraints } from "./constraints.js";
import { formSegments } from "./field-names.js";
import { hasDuplicateKey, parseJsonTree } from "./json-tree.js";
import { parseRate, rateWithin } from "./rate.js";
import { inspectRequest } from "./request-inspection.js";

const seg = (path: string) => (path === "/" ? [] : path.slice(1).split("/"));

/** Applied constraints for `METHOD /path`, then a checker for a JSON body and one for a form/query string. */
function applied(constraints: Record<string, unknown>, route = "POST /v1/refunds") {
  const [method, path] = route.split(" ") as [string, string];
  const a = compileConstraints(constraints).forRoute(method, seg(path));
  const check = (query: string, type: string | null, body: string | null) =>
    inspectRequest(a, {
      method,
      query,
      headers: type ? { "content-type": type } : {},
      body: body === null ? null : Buffer.from(body),
      overrideMatters: false,
    });
  return {
    a,
    json: (body: unknown) => check("", "application/json", typeof body === "string" ? body : JSON.stringify(body)),
    form: (s: string) => check("", "application/x-www-form-urlencoded", s),
    query: (s: string) => check(s, null, null),
  };
}

describe("operators on JSON values", () => {
  it("eq and in compare JSON scalars strictly (a string is not a number)", () => {
    const c = applied({ "body.currency": { eq: "usd" }, "body.n": { in: [1, 2, null] } });
    expect(c.json({ currency: "usd", n: 2 })).toBeNull();
    expect(c.json({ currency: "usd", n: null })).toBeNull();
    expect(c.json({ currency: "eur", n: 2 })).toEqual({ field: "body.currency" });
    expect(c.json({ currency: "usd", n: "2" })).toEqual({ field: "body.n" });
    expect(c.json({ currency: "usd", n: 3 })).toEqual({ field: "body.n" });
  });

  it("min and max are inclusive and need a JSON number", () => {
    const c = applied({ "body.amount": { min: 1, max: 5000 } });
    expect(c.json({ amount: 5000 })).toBeNull();
    expect(c.json({ amount: 1 })).toBeNull();
    expect(c.json({ amount: 5000.01 })).toEqual({ field: "body.amount" });
    expect(c.json({ amount: 0 })).toEqual({ field: "body.amount" });
    expect(c.json({ amount: "100" })).toEqual({ field: "body.amount" });
    expect(c.json({ amount: true })).toEqual({ field: "body.amount" });
    expect(c.json(JSON.parse('{"amount":1e400}'))).toEqual({ field: "body.amount" }); // Infinity
  });

  it("pattern matches the whole string value and needs a string", () => {
    const c = applied({ "body.metadata.order_id": { pattern: "ord_[0-9]+" } });
    expect(c.json({ metadata: { order_id: "ord_42" } })).toBeNull();
    expect(c.json({ metadata: { order_id: "xord_42" } })).toEqual({ field: "body.metadata.order_id" });
    expect(c.json({ metadata: { order_id: "ord_42x" } })).toEqual({ field: "body.metadata.order_id" });
    expect(c.json({ metadata: { order_id: 42 } })).toEqual({ field: "body.metadata.order_id" });
  });

  it("a missing field, a missing parent, an object where a value is expected all fail", () => {
    const c = applied({ "body.metadata.order_id": { eq: "a" } });
    expect(c.json({})).toEqual({ field: "body.metadata.order_id" });
    expect(c.json({ metadata: "a" })).toEqual({ field: "body.metadata.order_id" });
    expect(c.json({ metadata: { order_id: { eq: "a" } } })).toEqual({ field: "body.metadata.order_id" });
    expect(c.json([{ metadata: { order_id: "a" } }].slice(1))).toEqual({ field: "body.metadata.order_id" });
    expect(c.json(null)).toEqual({ field: "body.metadata.order_id" });
  });

  it("never reads inherited properties", () => {
    const c = applied({ "body.constructor": { eq: "x" }, "body.toString": { eq: "x" } });
    expect(c.json({})).toEqual({ field: "body.constructor" });
    expect(c.json(JSON.parse('{"constructor":"x","toString":"x"}'))).toBeNull();
  });

  it("arrays: every element must satisfy; an index selects one; an array of objects fans out", () => {
    const c = applied({ "body.amounts": { max: 10 } });
    expect(c.json({ amounts: [1, 10] })).toBeNull();
    expect(c.json({ amounts: [1, 11] })).toEqual({ field: "body.amounts" });
    expect(c.json({ amounts: [] })).toEqual({ field: "body.amounts" });
    expect(c.json({ amounts: [[1]] })).toEqual({ field: "body.amounts" });
    const items = applied({ "body.items.price": { max: 10 }, "body.items.0.qty": { eq: 1 } });
    expect(items.json({ items: [{ price: 5, qty: 1 }, { price: 10 }] })).toBeNull();
    expect(items.json({ items: [{ price: 5, qty: 1 }, { price: 11 }] })).toEqual({ field: "body.items.price" });
    expect(items.json({ items: [{ price: 5, qty: 1 }, {}] })).toEqual({ field: "body.items.price" });
    expect(items.json({ items: [{ price: 5, qty: 2 }] })).toEqual({ field: "body.items.0.qty" });
  });

  it("a list of operator objects (an AND-merge) needs all of them", () => {
    const c = applied({ "body.amount": [{ max: 5000 }, { max: 100 }, { min: 1 }] });
    expect(c.json({ amount: 100 })).toBeNull();
    expect(c.json({ amount: 101 })).toEqual({ field: "body.amount" });
    expect(c.json({ amount: 0 })).toEqual({ field: "body.amount" });
  });
});

describe("form and query values (strings)", () => {
  it("Stripe-style nesting: metadata[order_id] is body.metadata.order_id, a[] and a[0] too", () => {
    expect(formSegments("metadata[order_id]")).toEqual({ segs: ["metadata", "order_id"], odd: false });
    expect(formSegments("b[]")).toEqual({ segs: ["b"], odd: false });
    expect(formSegments("c[0][d]")).toEqual({ segs: ["c", "0", "d"], odd: false });
    expect(formSegments("c[][d]").odd).toBe(true);
    expect(formSegments("c[d]x").odd).toBe(true);
    expect(
      applied({ "body.c.0.d": { eq: "z" }, "body.b": { in: ["x", "y"] } }).form("b[]=x&b[]=y&c[0][d]=z"),
    ).toBeNull();
    const c = applied({ "body.metadata.order_id": { pattern: "ord_[0-9]+" } });
    expect(c.form("amount=1&metadata[order_id]=ord_7")).toBeNull();
    expect(c.form("amount=1&metadata[order_id]=nope")).toEqual({ field: "body.metadata.order_id" });
  });

  it("min/max accept only plain decimals written in full", () => {
    const c = applied({ "body.amount": { max: 5000 } });
    for (const ok of ["5000", "0", "-3", "4999.5"]) expect(c.form(`amount=${ok}`)).toBeNull();
    for (const bad of ["5001", "5e3", "%205000", "5000%20", "0x10", "05000", "", "+5", "5000.", "Infinity", "NaN"]) {
      expect(c.form(`amount=${bad}`), bad).toEqual({ field: "body.amount" });
    }
  });

  it("eq compares numbers numerically, strings and booleans as text", () => {
    const c = applied({ "body.n": { eq: 5 }, "body.s": { in: ["a", "b"] }, "body.b": { eq: true } });
    expect(c.form("n=5&s=b&b=true")).toBeNull();
    expect(c.form("n=5.0&s=b&b=true")).toBeNull();
    expect(c.form("n=05&s=b&b=true")).toEqual({ field: "body.n" });
    expect(c.form("n=5&s=c&b=true")).toEqual({ field: "body.s" });
    expect(c.form("n=5&s=a&b=1")).toEqual({ field: "body.b" });
  });

  it("a repeated field must satisfy the constraint for every value, however it is spelled", () => {
    const c = applied({ "query.limit": { max: 10 } }, "GET /v1/charges");
    expect(c.query("limit=5")).toBeNull();
    expect(c.query("limit=5&limit=11")).toEqual({ field: "query.limit" });
    expect(c.query("limit[]=5&limit[]=500")).toEqual({ field: "query.limit" });
    expect(c.query("lim%69t=500&limit=5")).toEqual({ field: "query.limit" });
    expect(c.query("other=1")).toEqual({ field: "query.limit" });
    // `;` is a separator to some parsers: the string cannot be checked.
    expect(c.query("x=1;limit=500&limit=5")).toEqual({ field: "query.limit" });
  });
});

describe("route-scoped constraints", () => {
  const constraints = {
    "query.expand": { in: ["customer"] },
    "POST /v1/refunds": { "body.amount": { max: 5000 } },
    "GET /v1/charges/{id}": { "query.limit": { max: 1 } },
  };
  const checker = compileConstraints(constraints);

  it("apply only on their route, together with the global ones", () => {
    expect(checker.forRoute("POST", seg("/v1/refunds"))).toMatchObject({
      query: [{ key: "query.expand" }],
      body: [{ key: "body.amount" }],
    });
    expect(checker.forRoute("GET", seg("/v1/customers"))).toMatchObject({ query: [{ key: "query.expand" }], body: [] });
    expect(checker.forRoute("HEAD", seg("/v1/charges/ch_1"))?.query.map((f) => f.key)).toEqual([
      "query.expand",
      "query.limit",
    ]);
  });

  it("no constraint applies → null (the gateway does nothing)", () => {
    const scopedOnly = compileConstraints({ "POST /v1/refunds": { "body.amount": { max: 1 } } });
    expect(scopedOnly.forRoute("GET", seg("/v1/charges/ch_1"))).toBeNull();
    expect(scopedOnly.forRoute("POST", seg("/v1/refunds/re_1"))).toBeNull();
  });
});

describe("parseConstraints validation", () => {
  it.each([
    [{ "body.a": { lte: 1 } }, /unknown operator/],
    [{ "body.a": { min: 2, max: 1 } }, /min is greater than max/],
    [{ "body.a": { in: [] } }, /in for/],
    [{ "body.a": { in: [{}] } }, /in for/],
    [{ "body.a": { eq: [1] } }, /eq for/],
    [{ "body.a": { pattern: 5 } }, /pattern for/],
    [{ "body.a..b": { eq: 1 } }, /path segments/],
    [{ "body.a.b.c.d.e.f.g.h.i": { eq: 1 } }, /deeper/],
    [{ body: { eq: 1 } }, /field path/],
    [{ "cookie.a": { eq: 1 } }, /field path/],
    [{ "PATCH /v1/x": {} }, /constrains no field/],
    [{ "GET v1/x": { "query.a": { eq: 1 } } }, /field path/],
    [{ "GET /v1/{": { "query.a": { eq: 1 } } }, /invalid segment/],
    [{ "body.a": [] }, /empty list/],
    [[], /must be an object/],
  ])("rejects %j", (raw, message) => {
    expect(() => parseConstraints(raw)).toThrow(message);
  });
});

describe("mergeConstraints", () => {
  it("AND-merges: same field → list of both, same route → merged field maps, others kept", () => {
    const own = { "body.a": { max: 5 }, "GET /x": { "query.q": { eq: "1" } }, "query.z": { eq: 1 } };
    const req = { "body.a": [{ min: 1 }, { max: 9 }], "GET /x": { "query.q": { in: ["1"] }, "query.r": { max: 2 } } };
    const merged = mergeConstraints(own, req);
    expect(merged).toEqual({
      "body.a": [{ max: 5 }, { min: 1 }, { max: 9 }],
      "GET /x": { "query.q": [{ eq: "1" }, { in: ["1"] }], "query.r": { max: 2 } },
      "query.z": { eq: 1 },
    });
    expect(() => parseConstraints(merged)).not.toThrow();
    expect(mergeConstraints(null, req)).toBe(req);
    expect(mergeConstraints(own, null)).toBe(own);
  });
});

describe("JSON duplicate keys", () => {
  it("finds a repeated key in any object, also when escaped differently, and nothing else", () => {
    const dup = (text: string) => hasDuplicateKey(parseJsonTree(text) as never);
    expect(dup('{"amount":1,"amount":2}')).toBe(true);
    expect(dup('{"amount":1,"\\u0061mount":2}')).toBe(true);
    expect(dup('{"a":{"b":1,"b":1}}')).toBe(true);
    expect(dup('{"a":{"b":1},"b":["b","b",{"c":"b"}],"c":"a"}')).toBe(false);
    expect(dup('[{"a":1},{"a":2}]')).toBe(false);
    expect(dup('{"a":"x\\",\\"a\\":1"}')).toBe(false);
  });
});

describe("rates", () => {
  it("parses count/unit and compares burst and sustained rate", () => {
    expect(parseRate("60/m")).toEqual({ count: 60, periodMs: 60_000 });
    expect(parseRate("1/h")).toEqual({ count: 1, periodMs: 3_600_000 });
    for (const bad of ["0/s", "1/d", "01/s", "1 /s", "1/S"]) expect(() => parseRate(bad)).toThrow(/rate/);
    expect(rateWithin(parseRate("1/s"), parseRate("60/m"))).toBe(true);
    expect(rateWithin(parseRate("2/s"), parseRate("60/m"))).toBe(false);
    expect(rateWithin(parseRate("100/h"), parseRate("60/m"))).toBe(false);
    expect(rateWithin(parseRate("60/h"), parseRate("60/m"))).toBe(true);
  });
});
