import { describe, expect, it } from "vitest";
import { compileConstraints } from "./constraint-check.js";
import { parseConstraints } from "./constraints.js";
import { foldName, isMethodOverrideKey } from "./field-names.js";
import { parseMultipart } from "./multipart.js";
import { inspectRequest, type Verdict } from "./request-inspection.js";

/** Rule 11 at the core: one constraint set, requests as (query, content type, body) → verdict. */

const C = {
  "body.amount": { max: 5000 },
  "body.metadata.order_id": { pattern: "ord_[0-9]+" },
  "query.limit": { max: 10 },
};
const applied = compileConstraints(C).forRoute("POST", ["v1", "refunds"]);

function check(query: string, type: string | null, body: string | Buffer | null, overrideMatters = false): Verdict {
  return inspectRequest(applied, {
    method: "POST",
    query,
    headers: type ? { "content-type": type } : {},
    body: body === null ? null : Buffer.from(body),
    overrideMatters,
  });
}
const JSON_T = "application/json";
const FORM_T = "application/x-www-form-urlencoded";
const okJson = (extra = "") => `{"amount":5000,"metadata":{"order_id":"ord_1"}${extra}}`;

describe("a field is checked wherever an upstream may read it", () => {
  it("the body's field in the query, the query's field in the body", () => {
    expect(check("limit=10", JSON_T, okJson())).toBeNull();
    expect(check("limit=10&amount=99999", JSON_T, okJson())).toEqual({ field: "body.amount" });
    expect(check("limit=10&amount=5000", JSON_T, okJson())).toBeNull();
    expect(check("limit=10&metadata[order_id]=evil", JSON_T, okJson())).toEqual({ field: "body.metadata.order_id" });
    expect(check("limit=10", JSON_T, okJson(',"limit":500'))).toEqual({ field: "query.limit" });
    expect(check("limit=10", JSON_T, okJson(',"limit":"10"'))).toEqual({ field: "query.limit" }); // a string: not a number
    expect(check("limit=10", JSON_T, okJson(',"limit":7'))).toBeNull();
    expect(check("limit=10", FORM_T, "amount=1&metadata[order_id]=ord_1&limit=11")).toEqual({ field: "query.limit" });
  });

  it("a body of another type is sniffed for a JSON object (Go decodes it whatever the Content-Type)", () => {
    const q = compileConstraints({ "query.limit": { max: 10 } }).forRoute("POST", ["x"]);
    const run = (type: string, body: string) =>
      inspectRequest(q, {
        method: "POST",
        query: "limit=1",
        headers: { "content-type": type },
        body: Buffer.from(body),
        overrideMatters: false,
      });
    expect(run("text/plain", '  {"limit": 500}')).toEqual({ field: "query.limit" });
    expect(run("application/octet-stream", '{"limit": 5}')).toBeNull();
    expect(run("application/octet-stream", "limit=500")).toBeNull(); // no form parser reads this type
    expect(run("application/json", '{"limit": 5}')).toBeNull();
    expect(run("application/json", "{")).toEqual({ field: "query.limit" }); // a JSON body that cannot be read
  });
});

describe("spellings some upstream reads as the same field are refused", () => {
  it.each([
    ["case", ',"AMOUNT":1'],
    ["case (title)", ',"Amount":1'],
    ["a JSON escape of a different case", ',"\\u0041mount":1'],
    ["Laravel dot notation", ',"metadata.order_id":"evil"'],
    ["a nested key in another case", ""],
    ["NUL truncation", ',"amount\\u0000x":1'],
  ])("JSON: %s", (name, extra) => {
    const body = name.startsWith("a nested")
      ? '{"amount":1,"metadata":{"order_id":"ord_1","ORDER_ID":"x"}}'
      : okJson(extra);
    expect(check("limit=1", JSON_T, body)).not.toBeNull();
  });

  it("Unicode simple folds: ſ (U+017F) for s, K (U+212A) for k", () => {
    const c = compileConstraints({ "body.status": { eq: "ok" }, "body.key": { eq: "k" } }).forRoute("POST", []);
    const run = (body: string) =>
      inspectRequest(c, {
        method: "POST",
        query: "",
        headers: { "content-type": JSON_T },
        body: Buffer.from(body),
        overrideMatters: false,
      });
    expect(run('{"status":"ok","key":"k"}')).toBeNull();
    expect(run('{"status":"ok","key":"k","\u017Ftatus":"bad"}')).toEqual({ field: "body.status" });
    expect(run('{"status":"ok","key":"k","\\u017ftatus":"bad"}')).toEqual({ field: "body.status" });
    expect(run('{"status":"ok","key":"k","\u212Aey":"bad"}')).toEqual({ field: "body.key" });
    expect(run('{"status":"ok","key":"k","stat\u00fcs":"x"}')).toBeNull(); // ü folds to no ASCII letter
  });

  it("every non-ASCII code point that case-maps onto ASCII is in the fold table", () => {
    for (let cp = 0x80; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCharCode(cp);
      for (const mapped of [c.toLowerCase(), c.toUpperCase(), c.toUpperCase().toLowerCase()]) {
        if (/^[A-Za-z]$/.test(mapped)) expect(foldName(c), `U+${cp.toString(16)}`).toBe(mapped.toLowerCase());
      }
    }
    expect(foldName("İ")).toBe("i"); // Java equalsIgnoreCase
  });

  it.each([
    "AMOUNT=1",
    "amount[0]=1",
    "amount[x]=1",
    "metadata.order_id=evil",
    "metadata[ORDER_ID]=evil",
    "metadata=evil",
    "metadata[order_id][x]=evil",
    "metadata[order_id]%00=evil",
  ])("query or form alias %s", (alias) => {
    expect(check(`limit=1&${alias}`, JSON_T, okJson())).not.toBeNull();
    expect(check("limit=1", FORM_T, `amount=1&metadata[order_id]=ord_1&${alias}`)).not.toBeNull();
  });

  it("PHP's rewrite of `.` and ` ` in a base name: order.id is order_id", () => {
    const c = compileConstraints({ "body.order_id": { pattern: "ord_[0-9]+" } }).forRoute("POST", []);
    const run = (body: string) =>
      inspectRequest(c, {
        method: "POST",
        query: "",
        headers: { "content-type": FORM_T },
        body: Buffer.from(body),
        overrideMatters: false,
      });
    expect(run("order_id=ord_1")).toBeNull();
    expect(run("order_id=ord_1&order.id=evil")).toEqual({ field: "body.order_id" });
    expect(run("order_id=ord_1&order+id=evil")).toEqual({ field: "body.order_id" });
    expect(run("order_id=ord_1&%20order_id=evil")).toEqual({ field: "body.order_id" });
  });
});

describe("repeated fields: every value", () => {
  it("form, query and JSON arrays", () => {
    expect(check("limit=1&limit=11", JSON_T, okJson())).toEqual({ field: "query.limit" });
    expect(check("limit=1", FORM_T, "amount=1&metadata[order_id]=ord_1&amount=5001")).toEqual({ field: "body.amount" });
    expect(check("limit=1", FORM_T, "amount=5001&metadata[order_id]=ord_1&amount=1")).toEqual({ field: "body.amount" });
    expect(check("limit=1", FORM_T, "amount[]=1&amount[]=2&metadata[order_id]=ord_1")).toBeNull();
    expect(check("limit=1", JSON_T, '{"amount":1,"amount":1,"metadata":{"order_id":"ord_1"}}')).not.toBeNull();
  });
});

describe("numbers compare exactly", () => {
  const c = compileConstraints({ "body.id": { in: [9007199254740991] }, "body.n": { eq: 1000 } }).forRoute("POST", []);
  const run = (body: string) =>
    inspectRequest(c, {
      method: "POST",
      query: "",
      headers: { "content-type": JSON_T },
      body: Buffer.from(body),
      overrideMatters: false,
    });

  it.each([
    ['{"id":9007199254740991,"n":1000}', null],
    ['{"id":9007199254740991.0000001,"n":1000}', "body.id"],
    ['{"id":9007199254740991,"n":1e3}', null],
    ['{"id":9007199254740991,"n":1000.0}', null],
    ['{"id":9007199254740991,"n":1000.00000000000000001}', "body.n"],
    ['{"id":9007199254740991,"n":"1000"}', "body.n"],
  ])("%s", (body, field) => {
    expect(run(body)).toEqual(field === null ? null : { field });
  });

  it("max: 5000 refuses 5000.00000000000000001 in JSON and in a form", () => {
    expect(check("limit=1", JSON_T, '{"amount":5000.00000000000000001,"metadata":{"order_id":"ord_1"}}')).toEqual({
      field: "body.amount",
    });
    expect(check("limit=1", FORM_T, "amount=5000.00000000000000001&metadata[order_id]=ord_1")).toEqual({
      field: "body.amount",
    });
    expect(check("limit=10.000000000000000001", JSON_T, okJson())).toEqual({ field: "query.limit" });
  });

  it("an eq/in integer JSON cannot carry exactly is refused at issuance", () => {
    expect(() => parseConstraints({ "body.id": { eq: 9007199254740992 } })).toThrow(/9007199254740991/);
    expect(() => parseConstraints({ "body.id": { in: [1, -9007199254740992] } })).toThrow(/cannot be matched exactly/);
    expect(() => parseConstraints({ "body.id": { eq: 9007199254740991, max: 1e300 } })).not.toThrow();
  });
});

describe("method override (_method)", () => {
  const none = null;
  const run = (query: string, type: string | null, body: string | null, matters = true) =>
    inspectRequest(none, {
      method: "POST",
      query,
      headers: type ? { "content-type": type } : {},
      body: body === null ? null : Buffer.from(body),
      overrideMatters: matters,
    });

  it.each([
    "_method=DELETE",
    "_METHOD=put",
    "x=1&_Method=PATCH",
    "%5Fmethod=DELETE",
    "_m%65thod=DELETE",
    "_method[]=DELETE",
    ".method=DELETE",
    "+_method=DELETE",
    "a=1;_method=DELETE",
  ])("in the query, always refused: %s", (q) => {
    expect(run(q, null, null, false)).toHaveProperty("refused");
  });

  it("in a body, refused where it matters: form, untyped, multipart, top-level JSON", () => {
    expect(run("", FORM_T, "a=1&_method=DELETE")).toHaveProperty("refused");
    expect(run("", null, "_method=DELETE")).toHaveProperty("refused");
    expect(run("", JSON_T, '{"_method":"DELETE"}')).toHaveProperty("refused");
    expect(run("", JSON_T, '{"\\u005fMETHOD":"DELETE"}')).toHaveProperty("refused");
    const mp = '--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--XyZ--\r\n';
    expect(run("", "multipart/form-data; boundary=XyZ", mp)).toHaveProperty("refused");
    expect(run("", FORM_T, "a=1&_method=DELETE", false)).toBeNull(); // the nonce allows every method here
    expect(run("", JSON_T, '{"a":{"_method":"DELETE"}}')).toBeNull(); // not top level: nobody reads it
    expect(run("", "text/plain", "_method=DELETE")).toBeNull(); // no framework parses this type
    expect(run("", FORM_T, "a=1&methods=x")).toBeNull();
  });

  it("a parameter body that cannot be inspected is refused where it matters", () => {
    expect(run("", JSON_T, "{")).toHaveProperty("refused");
    expect(run("", "multipart/form-data; boundary=XyZ", "garbage")).toHaveProperty("refused");
    expect(
      inspectRequest(none, {
        method: "POST",
        query: "",
        headers: { "content-type": FORM_T, "content-encoding": "gzip" },
        body: Buffer.from("x"),
        overrideMatters: true,
      }),
    ).toHaveProperty("refused");
  });

  it("names: every spelling a framework reads as _method", () => {
    for (const k of ["_method", "_METHOD", " _method", ".method", "_method\u0000x", "_method[x]"]) {
      expect(isMethodOverrideKey(k), k).toBe(true);
    }
    for (const k of ["method", " method", "_methods", "x_method", "__method"])
      expect(isMethodOverrideKey(k), k).toBe(false);
  });
});

describe("multipart", () => {
  const part = (name: string, value: string, extra = "") =>
    `--B\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n${value}\r\n`;
  it("reads the regular form", () => {
    const body = Buffer.from(`${part("a", "1")}${part("f", "\u0000bin", '; filename="x.bin"')}--B--\r\n`);
    expect(parseMultipart(body, "B")).toEqual([
      { name: "a", value: "1" },
      { name: "f", value: null },
    ]);
  });

  it.each([
    ["a preamble", `junk\r\n${part("a", "1")}--B--`],
    ["no close delimiter", part("a", "1")],
    ["an epilogue", `${part("a", "1")}--B--\r\nmore`],
    ["name*", "--B\r\nContent-Disposition: form-data; name*=UTF-8''a\r\n\r\n1\r\n--B--"],
    ["an escaped quote", '--B\r\nContent-Disposition: form-data; name="a\\"b"\r\n\r\n1\r\n--B--'],
    [
      "two dispositions",
      '--B\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n\r\n1\r\n--B--',
    ],
    ["a repeated name parameter", '--B\r\nContent-Disposition: form-data; name="a"; name="b"\r\n\r\n1\r\n--B--'],
    ["a folded header", '--B\r\nContent-Disposition: form-data;\r\n name="a"\r\n\r\n1\r\n--B--'],
    [
      "a transfer encoding",
      '--B\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\nMQ==\r\n--B--',
    ],
  ])("refuses %s", (_name, body) => {
    expect(parseMultipart(Buffer.from(body), "B")).toBeNull();
  });

  it("constraints read multipart text fields; a file part where a value is constrained is refused", () => {
    const type = "multipart/form-data; boundary=B";
    expect(check("limit=1", type, `${part("amount", "5000")}${part("metadata[order_id]", "ord_1")}--B--`)).toBeNull();
    expect(check("limit=1", type, `${part("amount", "5001")}${part("metadata[order_id]", "ord_1")}--B--`)).toEqual({
      field: "body.amount",
    });
    expect(
      check("limit=1", type, `${part("amount", "1", '; filename="a"')}${part("metadata[order_id]", "ord_1")}--B--`),
    ).toEqual({
      field: "body.amount",
    });
    expect(
      check("limit=1", type, `${part("amount", "1")}${part("metadata[order_id]", "ord_1")}${part("limit", "50")}--B--`),
    ).toEqual({
      field: "query.limit",
    });
  });
});
