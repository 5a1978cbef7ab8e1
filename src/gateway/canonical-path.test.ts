import { describe, expect, it } from "vitest";
import { compileRoutes } from "../core/scopes.js";
import { canonicalizeTarget } from "./canonical-path.js";

function ok(target: string) {
  const r = canonicalizeTarget(target);
  if ("error" in r) throw new Error(`expected ${target} to be accepted, got: ${r.error}`);
  return r;
}

describe("canonicalizeTarget (SECURITY.md rules 1, 2 and 15)", () => {
  it.each([
    ["/", "/", [], ""],
    ["/v1/customers", "/v1/customers", ["v1", "customers"], ""],
    ["/v1/customers?limit=3&x=%2F", "/v1/customers", ["v1", "customers"], "limit=3&x=%2F"],
    ["/%61dmin", "/admin", ["admin"], ""],
    ["/%41%7a%30-%5f%7E", "/Az0-_~", ["Az0-_~"], ""],
    ["/v1/a%20b", "/v1/a%20b", ["v1", "a%20b"], ""],
    ["/v1/a%2b%3a%40", "/v1/a%2B%3A%40", ["v1", "a%2B%3A%40"], ""],
    ["/api/chat.postMessage", "/api/chat.postMessage", ["api", "chat.postMessage"], ""],
    ["/v1/x:y@z!$&'()*+,=", "/v1/x:y@z!$&'()*+,=", ["v1", "x:y@z!$&'()*+,="], ""],
    ["/a/..b/c..", "/a/..b/c..", ["a", "..b", "c.."], ""],
  ])("accepts %s as %s", (input, path, segments, query) => {
    const r = ok(input);
    expect(r.path).toBe(path);
    expect(r.segments).toEqual(segments);
    expect(r.query).toBe(query);
    expect(r.encodedSlashFrom).toBe(segments.length);
  });

  it.each([
    ["/repos/o/r/contents/docs%2Fguide%2Fintro.md", "/repos/o/r/contents/docs/guide/intro.md", 4],
    ["/repos/o/r/contents/docs%2fguide%2fintro.md", "/repos/o/r/contents/docs/guide/intro.md", 4],
    ["/repos/o/r/git/ref/heads%2Ffeature%2Fx", "/repos/o/r/git/ref/heads/feature/x", 5],
    ["/a%2Fb/c", "/a/b/c", 0],
    ["/a/b%2F%61dmin", "/a/b/admin", 1],
  ])("decodes an encoded '/' in %s to %s, marking segments from %i on", (input, path, from) => {
    const r = ok(input);
    expect(r.path).toBe(path);
    expect(r.segments).toEqual(path.slice(1).split("/"));
    expect(r.encodedSlashFrom).toBe(from);
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
    // rule 2: encoded separators and dots (an encoded '/' is decoded, and what it reveals is checked)
    ["/v1/customers%2F..%2Fadmin", "encoded slash around a dot-dot"],
    ["/v1/customers%2f..%2fadmin", "encoded slash lower-case around a dot-dot"],
    ["/v1/customers%2F.%2Fadmin", "encoded slash around a dot"],
    ["/v1/a%2F%2Fb", "encoded empty segment"],
    ["/v1/a%2F", "encoded trailing slash"],
    ["/%2Fevil.example/x", "encoded leading slash"],
    ["/v1/%2F..", "encoded slash then dot-dot"],
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
    // rule 15: one decoding only
    ["/v1/%252e%252e%252fadmin", "double-encoded dot-dot-slash"],
    ["/v1/a%252F", "double-encoded slash"],
    ["/v1/a%2500", "double-encoded NUL"],
    ["/v1/a%25%32%65", "%25 before escapes of hex digits"],
    ["/v1/a%25u002e", "%25 before an IIS %u escape"],
    ["/v1/100%25", "any encoded percent"],
    ["/v1/%C0%AE%C0%AE/admin", "overlong dot (2 bytes)"],
    ["/v1/%c0%af", "overlong slash"],
    ["/v1/%E0%80%AE", "overlong dot (3 bytes)"],
    ["/v1/%F0%80%80%AE", "overlong dot (4 bytes)"],
    ["/v1/a%80", "lone continuation byte"],
    ["/v1/a%BF%BF", "continuation bytes only"],
    ["/v1/a%C3", "truncated sequence"],
    ["/v1/%ED%A0%80", "UTF-16 surrogate"],
    ["/v1/%F4%90%80%80", "beyond U+10FFFF"],
    ["/v1/%FF", "invalid byte"],
    ["/v1/caf%C3%A9", "valid UTF-8 (non-ASCII escape)"],
    ["/v1/%EF%BC%8E%EF%BC%8E", "fullwidth dots (NFKC '..')"],
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

  it("an encoded '/' only counts inside a final **: the matcher gets the decoded form and the marker", () => {
    const m = compileRoutes(["GET /repos/{owner}/{repo}/contents/**", "GET /repos/{owner}/{repo}"]);
    const nested = ok("/repos/o/r/contents/docs%2Fguide%2Fintro.md");
    expect(m.match("GET", nested.segments, nested.encodedSlashFrom)).toBe(true);
    // The same decoded path with the encoded '/' standing in for a literal or a {param}: refused.
    const smuggled = ok("/repos/o/r%2Fcontents/docs");
    expect(smuggled.path).toBe("/repos/o/r/contents/docs");
    expect(m.match("GET", smuggled.segments, smuggled.encodedSlashFrom)).toBe(false);
    const param = ok("/repos/o%2Fr");
    expect(m.match("GET", param.segments, param.encodedSlashFrom)).toBe(false);
  });

  it("authorises the decoded form: /%61dmin is matched as /admin, and a scope on /public does not cover it", () => {
    const r = ok("/%61dmin/users");
    expect(compileRoutes(["GET /admin/**"]).match("GET", r.segments)).toBe(true);
    expect(compileRoutes(["GET /public/**"]).match("GET", r.segments)).toBe(false);
  });
});
