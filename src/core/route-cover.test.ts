import { describe, expect, it } from "vitest";
import { covers, uncoveredRoutes } from "./route-cover.js";
import { compileRoutes, parseRoute } from "./scopes.js";

describe("route coverage (delegation: child routes within the parent's)", () => {
  it.each([
    ["GET /a/**", "GET /a/b/{id}/**", true],
    ["GET /a/**", "GET /a", true],
    ["GET /a/{id}", "GET /a/7", true],
    ["GET /a/{id}", "GET /a/{x}", true],
    ["* /a/{id}", "POST /a/1", true],
    ["GET /a/{id}", "GET /a/**", false],
    ["GET /a/7", "GET /a/{id}", false],
    ["GET /a/{id}", "GET /a/1/b", false],
    ["GET /a/{id}", "GET /a", false],
    ["GET /a/**", "* /a/1", false],
    ["GET /a/**", "POST /a/1", false],
    ["GET /a/b", "GET /a/c", false],
  ])("%s covers %s: %s", (parent, child, expected) => {
    expect(covers(parent, child)).toBe(expected);
  });

  it("agrees with the gateway's matcher: whatever a covered child matches, the parent matches", () => {
    const paths = [[], ["a"], ["a", "7"], ["a", "7", "b"], ["a", "b"], ["a", "c", "d", "e"]];
    const patterns = ["GET /a/**", "GET /a/{id}", "GET /a/7", "* /a/{id}", "GET /a", "GET /a/{id}/**", "POST /a/7"];
    for (const p of patterns) {
      for (const c of patterns) {
        if (!covers(p, c)) continue;
        const pm = compileRoutes([p]);
        const cm = compileRoutes([c]);
        for (const method of ["GET", "POST"]) {
          for (const segs of paths)
            if (cm.match(method, segs)) expect(pm.match(method, segs), `${p} ⊇ ${c}`).toBe(true);
        }
      }
    }
    expect(parseRoute("GET /a").segments).toEqual(["a"]);
  });

  it("lists the child routes no parent route covers", () => {
    expect(uncoveredRoutes(["GET /a/**", "POST /b"], ["GET /a/1", "POST /b", "DELETE /b"])).toEqual(["DELETE /b"]);
  });
});
