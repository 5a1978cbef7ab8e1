import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The security console: Preact, built into <repo>/dist/console and served by the control plane at /console
 * (src/api/console.ts). Everything is bundled (no CDN, works offline); no inline script or style is emitted, so
 * the strict CSP holds.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/console", import.meta.url)),
    emptyOutDir: true,
    // No data: URLs for assets and no preload polyfill: nothing the CSP would have to allow.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
