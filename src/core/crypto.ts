import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { AppError } from "./errors.js";

/**
 * Envelope encryption for stored credentials.
 *
 * A master key (KEK, versioned) wraps a random 256-bit data key (DEK) per credential; the DEK encrypts the secret.
 * Both layers are AES-256-GCM with a 12-byte IV and 16-byte tag. The AADs bind the service name (both layers) and
 * the KEK version (the wrapped DEK), so a ciphertext moved to another service row, or relabelled with another key
 * version, fails to open.
 *
 * Layout (format 1):
 *   u8 format=1 | u32be kekVersion | 12 ivK | 16 tagK | 32 wrappedDek | 12 ivD | 16 tagD | ciphertext
 * Rotation re-wraps only the DEK (`rewrap`); the secret's own ciphertext is untouched.
 */
const FORMAT = 1;
const HEADER = 1 + 4 + 12 + 16 + 32 + 12 + 16;

export interface MasterKeys {
  /** Version used to seal new secrets. */
  current: number;
  keys: ReadonlyMap<number, Buffer>;
}

function dekAad(service: string, kekVersion: number): Buffer {
  return Buffer.from(`agent-nonce/dek/v${FORMAT}/${kekVersion}/${service}`, "utf8");
}

function secretAad(service: string): Buffer {
  return Buffer.from(`agent-nonce/secret/v${FORMAT}/${service}`, "utf8");
}

function gcmSeal(key: Buffer, plaintext: Buffer, additional: Buffer): { iv: Buffer; tag: Buffer; ct: Buffer } {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(additional);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return { iv, tag: c.getAuthTag(), ct };
}

function gcmOpen(key: Buffer, iv: Buffer, tag: Buffer, ct: Buffer, additional: Buffer): Buffer {
  const d = createDecipheriv("aes-256-gcm", key, iv);
  d.setAAD(additional);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

function kek(keys: MasterKeys, version: number): Buffer {
  const k = keys.keys.get(version);
  if (k?.length !== 32) throw new AppError("internal", `master key version ${version} is not loaded`);
  return k;
}

export function seal(keys: MasterKeys, service: string, secret: Buffer): Buffer {
  const dek = randomBytes(32);
  try {
    const wrapped = gcmSeal(kek(keys, keys.current), dek, dekAad(service, keys.current));
    const body = gcmSeal(dek, secret, secretAad(service));
    const head = Buffer.alloc(5);
    head.writeUInt8(FORMAT, 0);
    head.writeUInt32BE(keys.current, 1);
    return Buffer.concat([head, wrapped.iv, wrapped.tag, wrapped.ct, body.iv, body.tag, body.ct]);
  } finally {
    dek.fill(0);
  }
}

interface Parsed {
  kekVersion: number;
  ivK: Buffer;
  tagK: Buffer;
  wrapped: Buffer;
  rest: Buffer;
}

function parse(blob: Buffer): Parsed {
  if (blob.length < HEADER || blob.readUInt8(0) !== FORMAT) {
    throw new AppError("internal", "stored credential has an unknown format");
  }
  return {
    kekVersion: blob.readUInt32BE(1),
    ivK: blob.subarray(5, 17),
    tagK: blob.subarray(17, 33),
    wrapped: blob.subarray(33, 65),
    rest: blob.subarray(65),
  };
}

function unwrapDek(keys: MasterKeys, service: string, p: Parsed): Buffer {
  try {
    return gcmOpen(kek(keys, p.kekVersion), p.ivK, p.tagK, p.wrapped, dekAad(service, p.kekVersion));
  } catch (e) {
    if (e instanceof AppError) throw e;
    // Never include the underlying crypto error: it carries no secret, but keep messages uniform.
    throw new AppError("internal", "stored credential failed authentication");
  }
}

/** Decrypts a sealed secret. The caller owns the returned Buffer and should zero it when done. */
export function open(keys: MasterKeys, service: string, blob: Buffer): Buffer {
  const p = parse(blob);
  const dek = unwrapDek(keys, service, p);
  try {
    return gcmOpen(dek, p.rest.subarray(0, 12), p.rest.subarray(12, 28), p.rest.subarray(28), secretAad(service));
  } catch {
    throw new AppError("internal", "stored credential failed authentication");
  } finally {
    dek.fill(0);
  }
}

/** Re-wraps the data key under the current master key version; the secret's own ciphertext is unchanged. */
export function rewrap(keys: MasterKeys, service: string, blob: Buffer): Buffer {
  const p = parse(blob);
  if (p.kekVersion === keys.current) return blob;
  const dek = unwrapDek(keys, service, p);
  try {
    const wrapped = gcmSeal(kek(keys, keys.current), dek, dekAad(service, keys.current));
    const head = Buffer.alloc(5);
    head.writeUInt8(FORMAT, 0);
    head.writeUInt32BE(keys.current, 1);
    return Buffer.concat([head, wrapped.iv, wrapped.tag, wrapped.ct, p.rest]);
  } finally {
    dek.fill(0);
  }
}

export function kekVersionOf(blob: Buffer): number {
  return parse(blob).kekVersion;
}

/** A non-reversible fingerprint of a secret, safe to show: `sha256:` + first 16 hex chars of a keyed digest. */
export function fingerprint(service: string, secret: Buffer): string {
  const h = createHash("sha256").update(`agent-nonce/fingerprint/${service}/`).update(secret).digest("hex");
  return `sha256:${h.slice(0, 16)}`;
}
