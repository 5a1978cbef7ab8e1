import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CompactSign, calculateJwkThumbprint, compactVerify, importJWK, type JWK } from "jose";
import { AppError } from "../core/errors.js";
import type { AuditCheckpoint } from "../core/types.js";
import { assertPrivate } from "./bootstrap.js";

/**
 * The audit signing key: Ed25519, one per replica, created 0600 in the data dir on first start
 * (`audit-signing.key`, a private JWK). The server refuses to start when the file is readable by group or world.
 * Checkpoints are compact JWS (alg EdDSA, `kid` = RFC 7638 thumbprint of the public JWK) over
 * `{seq, hash, time, events}`; each row also carries the public JWK, so any replica's checkpoint can be checked.
 */

export const AUDIT_SIGNING_KEY_FILE = "audit-signing.key";

export interface CheckpointPayload {
  seq: number;
  hash: string;
  time: number;
  events: number;
}

export interface AuditSigner {
  readonly kid: string;
  readonly publicJwk: JWK;
  sign(p: CheckpointPayload): Promise<AuditCheckpoint>;
}

function readOrCreate(file: string): string {
  try {
    assertPrivate(file);
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  try {
    // `wx`: never overwrite a key another process created in the meantime.
    writeFileSync(file, `${JSON.stringify(privateKey.export({ format: "jwk" }))}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  assertPrivate(file);
  return readFileSync(file, "utf8");
}

export async function loadAuditSigner(dataDir: string): Promise<AuditSigner> {
  const file = path.join(dataDir, AUDIT_SIGNING_KEY_FILE);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: JSON.parse(readOrCreate(file)) as JWK as never, format: "jwk" });
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError("invalid_request", `${file} is not a valid Ed25519 audit signing key`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new AppError("invalid_request", `${file} is not a valid Ed25519 audit signing key`);
  }
  const pub = createPublicKey(key).export({ format: "jwk" }) as JWK;
  const publicJwk: JWK = { kty: pub.kty, crv: pub.crv, x: pub.x } as JWK;
  const kid = await calculateJwkThumbprint(publicJwk, "sha256");
  const publicKey = JSON.stringify({ ...publicJwk, kid, alg: "EdDSA", use: "sig" });
  return {
    kid,
    publicJwk: { ...publicJwk, kid, alg: "EdDSA", use: "sig" },
    async sign(p) {
      const payload: CheckpointPayload = { seq: p.seq, hash: p.hash, time: p.time, events: p.events };
      const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "agent-nonce-audit-checkpoint" })
        .sign(key);
      return { ...payload, kid, publicKey, jws };
    },
  };
}

/**
 * Checks one checkpoint on its own: the public key hashes to `kid`, the JWS verifies with it, and the signed
 * payload is exactly the row's (seq, hash, time, events). Trust in the key is the caller's decision.
 */
export async function checkpointSignatureValid(c: AuditCheckpoint): Promise<boolean> {
  try {
    const jwk = JSON.parse(c.publicKey) as JWK;
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") return false;
    const bare = { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JWK;
    if ((await calculateJwkThumbprint(bare, "sha256")) !== c.kid) return false;
    const { payload, protectedHeader } = await compactVerify(c.jws, await importJWK(bare, "EdDSA"), {
      algorithms: ["EdDSA"],
    });
    if (protectedHeader.kid !== c.kid) return false;
    const p = JSON.parse(new TextDecoder().decode(payload)) as Partial<CheckpointPayload>;
    return p.seq === c.seq && p.hash === c.hash && p.time === c.time && p.events === c.events;
  } catch {
    return false;
  }
}
