import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Context, Hono } from "hono";
import type { ApiEnv } from "./env.js";
import { errorResponse } from "./errors.js";

/**
 * The security console (console/, built by Vite into dist/console/) served at /console by the control plane.
 *
 * No file is ever opened from a request path: the built folder is read once into a map of its files, and a
 * request is looked up in that map by exact name, so `..`, encoded separators or symlink tricks cannot reach
 * anything else. Any other /console/<route> without a file extension gets index.html (the client-side router).
 * Every answer carries a strict CSP (no inline script or style, same-origin connections only, no framing).
 */

export const CONSOLE_PREFIX = "/console";

/** From src/api/ (tests) and dist/api/ (built) alike, the built console is <repo>/dist/console. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../dist/console/", import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

interface Asset {
  body: Uint8Array;
  type: string;
  /** Vite puts content-hashed files under assets/: they never change, so they may be cached for a year. */
  immutable: boolean;
}

/** Every regular file under `dir`, keyed by its posix path relative to it; null when the console is not built. */
export function readConsoleAssets(dir: string): Map<string, Asset> | null {
  let index: Buffer;
  try {
    index = readFileSync(path.join(dir, "index.html"));
  } catch {
    return null;
  }
  const files = new Map<string, Asset>([["index.html", { body: index, type: TYPES[".html"]!, immutable: false }]]);
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(dir, name);
      if (entry.isDirectory()) walk(name);
      else if (entry.isFile() && statSync(full).size <= 8 * 1024 * 1024) {
        const type = TYPES[path.extname(entry.name).toLowerCase()];
        if (type) files.set(name, { body: readFileSync(full), type, immutable: name.startsWith("assets/") });
      }
    }
  };
  walk("");
  return files;
}

function send(c: Context<ApiEnv>, asset: Asset) {
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    "Content-Type": asset.type,
    "Cache-Control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
  };
  return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, headers);
}

/** Registers GET /console and /console/*. The folder is read on the first request (most test apps never ask). */
export function registerConsole(app: Hono<ApiEnv>, dir: string = DEFAULT_CONSOLE_DIR): void {
  let assets: Map<string, Asset> | null | undefined;
  const handler = (c: Context<ApiEnv>) => {
    assets ??= readConsoleAssets(dir);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
    if (!assets) return errorResponse(c, "unavailable", "the console is not built: run `npm run build`");
    const rel = c.req.path.slice(CONSOLE_PREFIX.length).replace(/^\/+/, "");
    const file = assets.get(rel);
    if (file) return send(c, file);
    // A name with an extension (or under assets/) is a file that does not exist, not a console route.
    if (rel.startsWith("assets/") || /\.[A-Za-z0-9]+$/.test(rel)) {
      return errorResponse(c, "not_found", "no such file");
    }
    return send(c, assets.get("index.html")!);
  };
  app.get(CONSOLE_PREFIX, handler);
  app.get(`${CONSOLE_PREFIX}/*`, handler);
}
