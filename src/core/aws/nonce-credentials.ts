import { createHmac, timingSafeEqual } from "node:crypto";
import type { MasterKeys } from "../crypto.js";

/**
 * The AWS credential pair handed to an agent with an `aws_sigv4` nonce.
 *
 * - `access_key_id` is the nonce's public id (`nce_…`): the gateway finds the nonce by an exact primary-key
 *   lookup. It is not a secret (it is in every audit event already), just as AWS treats access key ids.
 * - `secret_access_key` is `base64url(HMAC-SHA256(K, "nonce-secret\0" ‖ id ‖ "\0" ‖ tokenKey))`, where
 *   `K = HMAC-SHA256(masterKey_v, "agent-nonce/aws-nonce-secret/v1")` for a loaded master-key version `v`.
 *
 * Why this is sound: the secret is a PRF output under a key only the server holds (derived from the master key,
 * which never leaves the process), bound to both the nonce id and the nonce's stored token key, so it is
 * recomputable by the gateway from the store row and never stored, in clear or sealed. Knowing the id, the token
 * key (a database row) or any number of other nonces' secrets gives no advantage in computing it without the
 * master key (HMAC-SHA256 is a PRF). The agent never sends the secret: SigV4 sends only an HMAC chain keyed by
 * it, which the gateway recomputes and compares in constant time. The `an_` token is not an input, so an AWS
 * agent does not need it; the token's hash is only what the store already keeps. A master-key rotation keeps
 * the old version loaded, and `matchesAnyVersion` accepts a secret derived under any loaded version.
 */

const LABEL = "agent-nonce/aws-nonce-secret/v1";

function derivedKey(masterKey: Buffer): Buffer {
  return createHmac("sha256", masterKey).update(LABEL).digest();
}

function secretWith(masterKey: Buffer, nonceId: string, tokenKey: Buffer): string {
  const k = derivedKey(masterKey);
  try {
    return createHmac("sha256", k)
      .update("nonce-secret\0")
      .update(nonceId)
      .update("\0")
      .update(tokenKey)
      .digest("base64url");
  } finally {
    k.fill(0);
  }
}

/** The secret given at issuance (under the current master-key version). */
export function awsNonceSecret(keys: MasterKeys, nonceId: string, tokenKey: Buffer): string {
  const mk = keys.keys.get(keys.current);
  if (!mk) throw new Error("current master key version is not loaded");
  return secretWith(mk, nonceId, tokenKey);
}

/** Every secret this nonce may legitimately hold: one per loaded master-key version, current first. */
export function awsNonceSecretCandidates(keys: MasterKeys, nonceId: string, tokenKey: Buffer): string[] {
  const out: string[] = [];
  const current = keys.keys.get(keys.current);
  if (current) out.push(secretWith(current, nonceId, tokenKey));
  for (const [v, k] of keys.keys) if (v !== keys.current) out.push(secretWith(k, nonceId, tokenKey));
  return out;
}

/** Constant-time comparison of two lower-hex signatures (length mismatch is not secret). */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "latin1");
  const y = Buffer.from(b, "latin1");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A nonce id is the AWS access key id. */
export const AWS_ACCESS_KEY_ID = /^nce_[0-9A-HJKMNP-TV-Z]{26}$/;
