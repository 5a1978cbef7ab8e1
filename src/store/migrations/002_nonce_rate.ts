import type { Migration } from "./index.js";

/**
 * Per-nonce rate limits (`"60/m"`, see core/rate.ts): a nullable text column, null meaning no limit. Existing
 * nonces keep null. The gateway enforces the rate in process; only the issued value is stored.
 */
export const nonceRate: Migration = {
  version: 2,
  name: "nonce_rate",
  sqlite: ["ALTER TABLE nonces ADD COLUMN rate TEXT"],
  postgres: ["ALTER TABLE nonces ADD COLUMN rate TEXT"],
};
