import { describe, expect, it } from "vitest";
import { injectCredential, stripQueryParam } from "./inject.js";

const secret = () => Buffer.from("sk_test_FAKE_0123456789abcdef");

describe("injectCredential", () => {
  it("bearer sets exactly one Authorization header", () => {
    const h: Record<string, string> = { accept: "*/*" };
    const r = injectCredential({ type: "bearer" }, secret(), h, "a=1");
    expect(h).toEqual({ accept: "*/*", authorization: "Bearer sk_test_FAKE_0123456789abcdef" });
    expect(r.query).toBe("a=1");
    expect(r.needles.some((n) => n.toString() === "sk_test_FAKE_0123456789abcdef")).toBe(true);
  });

  it("basic builds user:pass from the sealed JSON and scrubs the pair and the password", () => {
    const h: Record<string, string> = {};
    const r = injectCredential(
      { type: "basic" },
      Buffer.from(JSON.stringify({ username: "acct", password: "pw_FAKE_secret" })),
      h,
      "",
    );
    expect(h.authorization).toBe(`Basic ${Buffer.from("acct:pw_FAKE_secret").toString("base64")}`);
    const texts = r.needles.map((n) => n.toString());
    expect(texts).toContain("acct:pw_FAKE_secret");
    expect(texts).toContain("pw_FAKE_secret");
  });

  it("header uses the configured name and prefix", () => {
    const h: Record<string, string> = {};
    injectCredential({ type: "header", name: "X-Api-Key", prefix: "Key " }, secret(), h, "");
    expect(h).toEqual({ "x-api-key": "Key sk_test_FAKE_0123456789abcdef" });
  });

  it("query appends the parameter, percent-encoded", () => {
    const h: Record<string, string> = {};
    const r = injectCredential({ type: "query", name: "api_key" }, Buffer.from("a b&c"), h, "x=1");
    expect(r.query).toBe("x=1&api_key=a%20b%26c");
    expect(h).toEqual({});
  });

  it("refuses a stored secret that would break the header", () => {
    expect(() => injectCredential({ type: "bearer" }, Buffer.from("a\r\nX: y"), {}, "")).toThrow(/not a valid header/);
  });
});

describe("stripQueryParam (rule 5: the service's own query parameter)", () => {
  it.each([
    ["api_key=evil", ""],
    ["a=1&api_key=evil&b=2", "a=1&b=2"],
    ["API_KEY=evil&a=1", "a=1"],
    ["api%5Fkey=evil&a=1", "a=1"],
    ["api%5fkey=evil", ""],
    ["api_key&a=1", "a=1"],
    ["api_keys=1", "api_keys=1"],
  ])("%s → %s", (q, out) => {
    expect(stripQueryParam(q, "api_key")).toBe(out);
  });
  it("rejects an undecodable name", () => {
    expect(() => stripQueryParam("api%ZZkey=1", "api_key")).toThrow();
  });
});
