import { describe, expect, it } from "vitest";
import { compileRoutes, parseRoute, resolveScopes, validateCatalog } from "./scopes.js";

const segs = (p: string) => (p === "/" ? [] : p.slice(1).split("/"));

describe("route scopes", () => {
  const m = compileRoutes(["GET /v1/customers", "GET /v1/customers/{id}", "POST /v1/refunds", "* /files/**", "GET /"]);

  it.each([
    ["GET", "/v1/customers", true],
    ["GET", "/v1/customers/cus_123", true],
    ["GET", "/v1/customers/cus_123/sources", false],
    ["POST", "/v1/customers", false],
    ["DELETE", "/v1/customers/cus_123", false],
    ["POST", "/v1/refunds", true],
    ["GET", "/v1/refunds", false],
    ["PUT", "/files", true],
    ["DELETE", "/files/a/b/c", true],
    ["GET", "/filesx", false],
    ["GET", "/", true],
    ["HEAD", "/", false],
    ["GET", "/v1", false],
  ])("%s %s → %s", (method, path, ok) => {
    expect(m.match(method, segs(path))).toBe(ok);
  });

  it("a param never matches an empty segment", () => {
    expect(m.match("GET", ["v1", "customers", ""])).toBe(false);
  });

  describe("segments from an encoded '/' (encodedSlashFrom) only match a final **", () => {
    const r = compileRoutes([
      "GET /repos/{owner}/{repo}/contents/**",
      "GET /repos/{owner}/{repo}/git/ref/**",
      "GET /repos/{owner}/{repo}/issues/{n}",
      "PUT /files/{name}",
    ]);
    it.each([
      // decoded segments, index of the first segment that came from an encoded '/', expected
      ["GET", "/repos/o/r/contents/docs/guide/intro.md", 4, true],
      ["GET", "/repos/o/r/contents/docs/guide/intro.md", 5, true],
      ["GET", "/repos/o/r/git/ref/heads/feature/x", 5, true],
      ["HEAD", "/repos/o/r/contents/a/b", 4, false],
      ["GET", "/repos/o/r/contents/a/b", 3, false], // "contents" itself came from an encoded '/'
      ["GET", "/repos/o/r/contents/a/b", 1, false], // {repo} from an encoded '/'
      ["GET", "/repos/o/r/issues/1", 3, false], // no ** at all
      ["PUT", "/files/a/b", 1, false], // {name} cannot take "a%2Fb"
      ["GET", "/repos/o/r/issues/1", 5, true], // marker at the end: no encoded '/'
    ])("%s %s (from %i) → %s", (method, path, from, want) => {
      expect(r.match(method, segs(path), from)).toBe(want);
    });
    it("without the marker the decoded path is matched as plain segments", () => {
      expect(r.match("GET", segs("/repos/o/r/contents/a/b"))).toBe(true);
    });
  });

  it("literal beats param without shadowing", () => {
    const r = compileRoutes(["GET /a/special/x", "GET /a/{id}/y"]);
    expect(r.match("GET", segs("/a/special/y"))).toBe(true);
    expect(r.match("GET", segs("/a/special/x"))).toBe(true);
    expect(r.match("GET", segs("/a/other/x"))).toBe(false);
  });

  it.each([
    "GET",
    "GET v1",
    "get /x",
    "FETCH /x",
    "GET /a/../b",
    "GET /a/./b",
    "GET /a/**/b",
    "GET /a/%2e",
    "GET /a b",
    "GET /a/*",
  ])("rejects malformed pattern %j", (p) => {
    expect(() => parseRoute(p)).toThrow();
  });

  it("resolves catalog names and freezes them into routes", () => {
    const catalog = {
      "read:customers": ["GET /v1/customers", "GET /v1/customers/{id}"],
      "write:refunds": ["POST /v1/refunds"],
    };
    expect(resolveScopes(catalog, ["read:customers"], false)).toEqual(["GET /v1/customers", "GET /v1/customers/{id}"]);
    expect(() => resolveScopes(catalog, ["read:everything"], false)).toThrow(/unknown scope/);
    expect(() => resolveScopes(catalog, ["toString"], false)).toThrow(/unknown scope/);
    expect(() => resolveScopes(catalog, ["GET /v1/balance"], false)).toThrow(/raw route/);
    expect(resolveScopes(catalog, ["GET /v1/balance", "write:refunds"], true)).toEqual([
      "GET /v1/balance",
      "POST /v1/refunds",
    ]);
    expect(() => resolveScopes(catalog, [], true)).toThrow(/at least one/);
  });

  it("validates catalogs", () => {
    expect(() => validateCatalog({ ok: ["GET /x"] })).not.toThrow();
    expect(() => validateCatalog({ bad: [] })).toThrow();
    expect(() => validateCatalog({ "GET /x": ["GET /x"] })).toThrow();
    expect(() => validateCatalog({ x: ["GET /../x"] })).toThrow();
  });
});
