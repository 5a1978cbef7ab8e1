import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@agent-nonce/sdk": fileURLToPath(new URL("./packages/sdk/src/index.ts", import.meta.url)),
      "@agent-nonce/langchain": fileURLToPath(new URL("./packages/langchain/src/index.ts", import.meta.url)),
      "@agent-nonce/ai-sdk": fileURLToPath(new URL("./packages/ai-sdk/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["src/**/*.test.ts", "packages/*/src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: ["default"],
  },
});
