import { describe, expect, it } from "vitest";
import { compileRoutes } from "../core/scopes.js";
import { canonicalizeTarget } from "./canonical-path.js";

function ok(target: string) {
  const r = canonicalizeTarget(target);
  if ("error" in r) throw new Error(`expected ${target} to be accepted, got: ${r.error}`);
  return r;
}

describe("canonicalizeTarget (SECURITY.md rules 1 and 2)", () => {
  it.each([
    ["/", "/", [], ""],
    ["/v1/customers", "/v1/customers", ["v1", "customers"], ""],
    ["/v1/customers?limit=3&x=%2F", "/v1/customers", ["v1", "customers"], "limit=3&x=%2F"],
    ["/%61dmin", "/admin", ["admin"], ""],
    ["/%41%7a%30-%5f%7E", "/Az0-_~", ["Az0-_~"], ""],
    ["/v1/a%20b", "/v1/a%20b", ["v1", "a%20b"], ""],
    ["/v1/a%2b%c3%a9", "/v1/a%2B%C3%A9", ["v1", "a%2B%C3%A9"], ""],
    ["/api/chat.postMessage", "/api/chat.postMessage", ["api", "chat.postMessage"], ""],
    ["/v1/x:y@z!$&'()*+,=", "/v1/x:y@z!$&'()*+,=", ["v1", "x:y@z!$&'()*+,="], ""],
    ["/a/..b/c..", "/a/..b/c..", ["a", "..b", "c.."], ""],
  ])("accepts %s as %s", (input, path, segments, query) => {
    const r = ok(input);
    expect(r.path).toBe(path);
    expect(r.segments).toEqual(segments);
    expect(r.query).toBe(query);
  });

  it.each([
    // rule 1: origin-form only
    ["http://evil.example/v1/customers", "absolute-form"],
    ["https://evil.example/", "absolute-form https"],
    ["evil.example:443", "authority-form"],
    ["*", "asterisk-form"],
    ["//evil.example/v1/customers", "protocol-relative"],
    ["/\\evil.example/v1", "backslash after slash"],
    ["\\\\evil.example/v1", "leading backslashes"],
    ["/v1\\..\\admin", "raw backslash"],
    ["", "empty target"],
    // rule 2: encoded separators and dots
    ["/v1/customers%2F..%2Fadmin", "encoded slash"],
    ["/v1/customers%2f..%2fadmin", "encoded slash lower-case"],
    ["/v1/customers%5C..%5Cadmin", "encoded backslash"],
    ["/v1/customers%5c", "encoded backslash lower-case"],
    ["/v1/%2E%2E/admin", "encoded dot-dot"],
    ["/v1/%2e%2e/admin", "encoded dot-dot lower-case"],
    ["/v1/.%2E/admin", "mixed dot-dot"],
    ["/v1/%2e", "encoded dot segment"],
    ["/v1/a%2eb", "encoded dot inside segment"],
    ["/v1/a%00", "encoded NUL"],
    ["/v1/a%0d%0aX-Injected:%201", "encoded CRLF"],
    ["/v1/a%7f", "encoded DEL"],
    ["/v1/a%3bjsessionid=1", "encoded semicolon"],
    ["/v1/a%", "truncated escape"],
    ["/v1/a%4", "short escape"],
    ["/v1/a%zz", "non-hex escape"],
    ["/v1/a%%30", "double percent"],
    // dot and empty segments
    ["/v1/../admin", "dot-dot segment"],
    ["/v1/./customers", "dot segment"],
    ["/..", "leading dot-dot"],
    ["/v1/customers/..", "trailing dot-dot"],
    ["/v1//customers", "empty segment"],
    ["/v1/customers/", "trailing empty segment"],
    // path parameters and raw characters
    ["/v1/customers;x=1", "semicolon"],
    ["/v1/customers/;/admin", "semicolon segment"],
    ["/v1/a b", "space"],
    ["/v1/a\tb", "tab"],
    ["/v1/a\r\nX: y", "CRLF"],
    ["/v1/a\u0000", "NUL"],
    ["/v1/a#frag", "fragment"],
    ["/v1/é", "non-ASCII"],
    ["/v1/{x}", "braces"],
    ["/v1/a|b", "pipe"],
    ['/v1/a"b', "quote"],
    ["/v1/a?x=1 2", "space in query"],
    ["/v1/a?x=\r\n", "CRLF in query"],
    ["/v1/a?x=1#f", "fragment in query"],
    ["/v1/a?x=\u0000", "NUL in query"],
  ])("rejects %j (%s)", (input) => {
    expect("error" in canonicalizeTarget(input)).toBe(true);
  });

  it("authorises the decoded form: /%61dmin is matched as /admin, and a scope on /public does not cover it", () => {
    const r = ok("/%61dmin/users");
    expect(compileRoutes(["GET /admin/**"]).match("GET", r.segments)).toBe(true);
    expect(compileRoutes(["GET /public/**"]).match("GET", r.segments)).toBe(false);
  });
});
