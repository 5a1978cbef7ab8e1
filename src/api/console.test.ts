import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { getRequestListener } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestContext, testContext } from "../test/context.js";
import { createApiApp } from "./app.js";
import { CONSOLE_CSP, DEFAULT_CONSOLE_DIR } from "./console.js";

/**
 * The console's static files over a real socket with raw request targets (fetch would normalise `..` away):
 * security headers on every answer, the SPA fallback, caching, and no way out of the built folder.
 */

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, target: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: target, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

async function listen(ctx: TestContext, consoleDir: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(getRequestListener(createApiApp(ctx, { consoleDir }).fetch));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const SECRET = `outside_${randomBytes(8).toString("hex")}`;

function expectSecurityHeaders(r: Raw) {
  expect(r.headers["content-security-policy"]).toBe(CONSOLE_CSP);
  expect(CONSOLE_CSP).toContain("default-src 'self'");
  expect(CONSOLE_CSP).toContain("script-src 'self';");
  expect(CONSOLE_CSP).toContain("style-src 'self';");
  expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
  expect(CONSOLE_CSP).not.toContain("unsafe");
  expect(r.headers["x-frame-options"]).toBe("DENY");
  expect(r.headers["x-content-type-options"]).toBe("nosniff");
  expect(r.headers["referrer-policy"]).toBe("no-referrer");
}

describe("console static files", () => {
  let ctx: TestContext;
  let root: string;
  let srv: { port: number; close(): Promise<void> };

  beforeAll(async () => {
    ctx = await testContext();
    // <root>/secret.txt and <root>/console/{index.html, assets/app-abc123.js, link.txt -> ../secret.txt}
    root = mkdtempSync(path.join(tmpdir(), "an-console-"));
    const dir = path.join(root, "console");
    mkdirSync(path.join(dir, "assets"), { recursive: true });
    writeFileSync(path.join(root, "secret.txt"), SECRET);
    writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>console</title>");
    writeFileSync(path.join(dir, "assets/app-abc123.js"), "console.log(1)");
    symlinkSync(path.join(root, "secret.txt"), path.join(dir, "link.txt"));
    srv = await listen(ctx, dir);
  });
  afterAll(async () => {
    await srv.close();
    await ctx.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves index.html at /console and /console/ with the security headers, not cached, without a key", async () => {
    for (const target of ["/console", "/console/", "/console/index.html"]) {
      const r = await get(srv.port, target);
      expect(r.status, target).toBe(200);
      expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(r.headers["cache-control"]).toBe("no-cache");
      expect(r.body).toContain("<title>console</title>");
      expectSecurityHeaders(r);
    }
    // The API itself still needs a key.
    expect((await get(srv.port, "/v1/whoami")).status).toBe(401);
  });

  it("serves hashed assets with a long immutable cache", async () => {
    const r = await get(srv.port, "/console/assets/app-abc123.js");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(r.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(r.body).toBe("console.log(1)");
    expectSecurityHeaders(r);
  });

  it("answers index.html for console routes (SPA fallback) and 404 for missing files", async () => {
    for (const target of ["/console/nonces", "/console/tasks?task=sync-42", "/console/live/deep/route"]) {
      const r = await get(srv.port, target);
      expect(r.status, target).toBe(200);
      expect(r.body).toContain("<title>console</title>");
    }
    for (const target of ["/console/assets/missing.js", "/console/favicon.ico", "/console/assets/x"]) {
      const r = await get(srv.port, target);
      expect(r.status, target).toBe(404);
      expect(JSON.parse(r.body).error.code).toBe("not_found");
      expectSecurityHeaders(r);
    }
  });

  it.each([
    "/console/../secret.txt",
    "/console/%2e%2e/secret.txt",
    "/console/%2E%2E%2Fsecret.txt",
    "/console/assets/..%2f..%2fsecret.txt",
    "/console/assets/../../secret.txt",
    "/console/..%5csecret.txt",
    "/console/....//secret.txt",
    "/console//secret.txt",
    "/console/link.txt",
    `/console/${"../".repeat(12)}etc/passwd`,
    "/console/%00index.html",
  ])("never serves a file outside the built folder: %s", async (target) => {
    const r = await get(srv.port, target);
    expect(r.body).not.toContain(SECRET);
    expect(r.body).not.toContain("root:");
    expect([200, 400, 404]).toContain(r.status);
    if (r.status === 200) expect(r.body).toContain("<title>console</title>");
  });

  it("answers 503 with a clear code when the console is not built", async () => {
    const other = await listen(ctx, path.join(root, "not-built"));
    try {
      const r = await get(other.port, "/console");
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).error).toMatchObject({ code: "unavailable" });
      expectSecurityHeaders(r);
    } finally {
      await other.close();
    }
  });
});

describe("the built console (dist/console)", () => {
  it("has no inline script or style, loads only same-origin assets under /console/assets/", () => {
    const index = path.join(DEFAULT_CONSOLE_DIR, "index.html");
    if (!existsSync(index)) throw new Error("dist/console is missing: run `npm run build` first (npm test does it)");
    const html = readFileSync(index, "utf8");
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src="\/console\/assets\/[^"]+\.js"/);
      expect(body?.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
