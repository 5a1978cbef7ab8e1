import type { Migration } from "./index.js";

/**
 * Per-nonce parameters of a minted credential (src/gateway/minted/types.ts CredentialParams): JSON text such as
 * `{"github":{"repositories":["owner/repo"]}}`, null for nonces of static services. Never a secret: minted
 * credentials live in the gateway's memory only.
 */
export const nonceCredentialParams: Migration = {
  version: 7,
  name: "nonce_credential_params",
  sqlite: ["ALTER TABLE nonces ADD COLUMN credential_params TEXT"],
  postgres: ["ALTER TABLE nonces ADD COLUMN credential_params TEXT"],
};
