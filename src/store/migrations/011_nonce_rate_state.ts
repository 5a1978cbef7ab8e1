import type { Migration } from "./index.js";

/**
 * Per-nonce rate limit state (core/rate.ts `RateTat`), kept beside the use counter so the consume that counts a
 * use also decides the rate, in one transaction, on every replica. `rate_tat`: the whole epoch ms of the GCRA's
 * theoretical arrival time (null: never used, a full bucket); `rate_tat_frac`: the remainder, in 1/count ms
 * (below count < 1e9, so INTEGER). Integers, not a float: period/count need not be a whole ms, and the float's
 * rounding at epoch magnitudes denied the last request of a burst. Nonces without a rate keep null and 0.
 */
export const nonceRateState: Migration = {
  version: 11,
  name: "nonce_rate_state",
  sqlite: [
    "ALTER TABLE nonces ADD COLUMN rate_tat INTEGER",
    "ALTER TABLE nonces ADD COLUMN rate_tat_frac INTEGER NOT NULL DEFAULT 0",
  ],
  postgres: [
    "ALTER TABLE nonces ADD COLUMN rate_tat BIGINT",
    "ALTER TABLE nonces ADD COLUMN rate_tat_frac INTEGER NOT NULL DEFAULT 0",
  ],
};
