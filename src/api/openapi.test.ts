import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi.js";
import { ROUTES } from "./routes/index.js";

const CHECKED_IN = new URL("../../docs/openapi.json", import.meta.url);
const render = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

describe("OpenAPI document", () => {
  it("matches docs/openapi.json (regenerate with UPDATE_OPENAPI=1 npx vitest run src/api/openapi.test.ts)", () => {
    if (process.env.UPDATE_OPENAPI === "1") writeFileSync(CHECKED_IN, render());
    expect(readFileSync(CHECKED_IN, "utf8")).toBe(render());
  });

  it("documents every route, with bearer security on every /v1 operation", () => {
    // biome-ignore lint/suspicious/noExplicitAny: walking a JSON document
    const doc = openApiDocument() as any;
    expect(doc.openapi).toBe("3.1.0");
    for (const m of ROUTES) {
      const path = m.route.path;
      const op = doc.paths[path]?.[m.route.method];
      expect(op, `${m.route.method} ${path}`).toBeDefined();
      if (path.startsWith("/v1/")) {
        expect(op.security).toEqual([{ bearerAuth: [] }]);
        expect(op.responses["401"]).toBeDefined();
      }
    }
    expect(doc.paths["/v1/nonces"].post.responses["201"]).toBeDefined();
    expect(doc.components.schemas.IssueNonceRequest.required).toEqual(
      expect.arrayContaining(["service", "scope", "agent"]),
    );
  });
});
