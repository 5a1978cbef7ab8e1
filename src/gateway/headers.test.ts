import { describe, expect, it } from "vitest";
import { filterAcceptEncoding, filterRequestHeaders } from "./headers.js";

function filtered(raw: string[]) {
  const r = filterRequestHeaders(raw);
  if ("error" in r) throw new Error(r.error);
  return r;
}

describe("filterRequestHeaders (SECURITY.md rules 4, 5, 6)", () => {
  it("forwards allowlisted headers and nothing else", () => {
    const r = filtered([
      "Content-Type",
      "application/json",
      "Accept",
      "application/json",
      "User-Agent",
      "Stripe/v1 NodeBindings",
      "Stripe-Version",
      "2024-06-20",
      "Idempotency-Key",
      "abc",
      "X-GitHub-Api-Version",
      "2022-11-28",
      "X-Random",
      "dropped",
    ]);
    expect(r.headers).toEqual({
      "content-type": "application/json",
      accept: "application/json",
      "user-agent": "Stripe/v1 NodeBindings",
      "stripe-version": "2024-06-20",
      "idempotency-key": "abc",
      "x-github-api-version": "2022-11-28",
    });
  });

  it.each([
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
    "X-Agent-Nonce",
    "Host",
    "Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Trailer",
    "Upgrade",
    "Expect",
    "X-Api-Key",
    "Content_Type",
    "Accept_Encoding",
    "X-Real-IP",
  ])("strips %s", (name) => {
    const r = filtered([name, "x", "Accept", "*/*"]);
    expect(Object.keys(r.headers)).toEqual(["accept"]);
  });

  it("strips allowlisted headers the client named in Connection", () => {
    const r = filtered([
      "Connection",
      "close, Accept-Language, stripe-version",
      "Accept-Language",
      "en",
      "Stripe-Version",
      "1",
      "Accept",
      "*/*",
    ]);
    expect(r.headers).toEqual({ accept: "*/*" });
  });

  it("rejects Transfer-Encoding with Content-Length, and non-chunked TE", () => {
    expect(filterRequestHeaders(["Transfer-Encoding", "chunked", "Content-Length", "5"])).toHaveProperty("error");
    expect(filterRequestHeaders(["Content-Length", "5", "Transfer-Encoding", "chunked"])).toHaveProperty("error");
    expect(filterRequestHeaders(["Transfer-Encoding", "gzip, chunked"])).toHaveProperty("error");
    expect(filterRequestHeaders(["Content-Length", "5", "Content-Length", "5"])).toHaveProperty("error");
    expect(filterRequestHeaders(["Content-Length", "-1"])).toHaveProperty("error");
    const chunked = filtered(["Transfer-Encoding", "chunked"]);
    expect(chunked.chunked).toBe(true);
    expect(chunked.headers).toEqual({});
  });

  it.each(["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\u0000b", "a\u0001b", "a\u007fb"])(
    "rejects control characters in a value: %j",
    (v) => {
      expect(filterRequestHeaders(["Accept", v])).toHaveProperty("error");
      // even in a header that would be dropped anyway: nothing ambiguous is let through
      expect(filterRequestHeaders(["X-Whatever", v])).toHaveProperty("error");
    },
  );

  it("keeps Content-Length and reports it", () => {
    const r = filtered(["Content-Length", "12"]);
    expect(r.contentLength).toBe(12);
    expect(r.headers["content-length"]).toBe("12");
  });

  it("only asks the upstream for encodings the scrubber can decode", () => {
    expect(filterAcceptEncoding("gzip, deflate, br, zstd")).toBe("gzip, deflate, br");
    expect(filterAcceptEncoding("zstd;q=1.0, gzip;q=0.5")).toBe("gzip;q=0.5");
    expect(filterAcceptEncoding("zstd")).toBeUndefined();
  });
});
