import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import type { Config } from "../config.js";
import type { Clock } from "../core/clock.js";
import type { MasterKeys } from "../core/crypto.js";
import { AppError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { generateToken, hashToken, isWellFormed } from "../core/tokens.js";
import type { ApiKeyStore } from "../store/store.js";
import { systemDraft } from "./audit-draft.js";

/**
 * First-start and every-start checks for the data dir: a 0700 directory, a 0600 master key file, and an admin
 * API key when the store has none. Refuses to start when the master key file is readable by anyone but its owner.
 */

export const MASTER_KEY_FILE = "master.key";

interface MasterKeyFile {
  current: number;
  keys: Record<string, string>;
}

export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
}

export function assertPrivate(file: string): void {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new AppError(
      "invalid_request",
      `${file} is readable by other users (mode ${mode.toString(8)}); run: chmod 600 ${JSON.stringify(file)}`,
    );
  }
}

function decodeKey(b64: string, where: string): Buffer {
  const key = Buffer.from(b64, "base64");
  if (key.length !== 32) throw new AppError("invalid_request", `${where} must be 32 bytes, base64-encoded`);
  return key;
}

export function loadMasterKeys(config: Config): MasterKeys {
  if (config.masterKey) {
    return { current: 1, keys: new Map([[1, decodeKey(config.masterKey, "AGENT_NONCE_MASTER_KEY")]]) };
  }
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  let text: string;
  try {
    assertPrivate(file);
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const created: MasterKeyFile = { current: 1, keys: { "1": randomBytes(32).toString("base64") } };
    // `wx`: never overwrite a key another process created in the meantime.
    try {
      writeFileSync(file, `${JSON.stringify(created)}\n`, { mode: 0o600, flag: "wx" });
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    assertPrivate(file);
    text = readFileSync(file, "utf8");
  }
  let parsed: MasterKeyFile;
  try {
    parsed = JSON.parse(text) as MasterKeyFile;
  } catch {
    throw new AppError("invalid_request", `${file} is not a valid master key file`);
  }
  const keys = new Map<number, Buffer>();
  for (const [v, b64] of Object.entries(parsed.keys ?? {})) keys.set(Number(v), decodeKey(b64, `${file} key ${v}`));
  if (!keys.has(parsed.current))
    throw new AppError("invalid_request", `${file} has no key for version ${parsed.current}`);
  return { current: parsed.current, keys };
}

/**
 * Replaces a 0600 file atomically (write a temp file, fsync, rename): a crash mid-write must never leave a
 * truncated master key file, which would make every stored credential undecryptable.
 */
export function writePrivateFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Adds a new master key version and makes it current; the caller re-wraps credentials with it. */
export function addMasterKeyVersion(config: Config): MasterKeys {
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  assertPrivate(file);
  const parsed = JSON.parse(readFileSync(file, "utf8")) as MasterKeyFile;
  const next = Math.max(...Object.keys(parsed.keys).map(Number)) + 1;
  parsed.keys[String(next)] = randomBytes(32).toString("base64");
  parsed.current = next;
  writePrivateFileAtomic(file, `${JSON.stringify(parsed)}\n`);
  return loadMasterKeys(config);
}

/**
 * Creates the first admin key when the store has no key at all. Returns the key only when it was generated on
 * this start (the caller prints it once); a key given in the config is installed silently.
 */
export async function ensureAdminKey(store: ApiKeyStore, config: Config, clock: Clock): Promise<string | null> {
  if ((await store.countApiKeys()) > 0) return null;
  const given = config.adminKey;
  if (given !== undefined && !isWellFormed(given, "ank")) {
    throw new AppError("invalid_request", "AGENT_NONCE_ADMIN_KEY is not a well-formed ank_ key");
  }
  const key = given ?? generateToken("ank");
  const now = clock.now();
  const id = newId("key", now);
  const insert = store.insertApiKey(
    {
      id,
      name: "bootstrap-admin",
      role: "admin",
      policy: null,
      keyHash: hashToken(key),
      createdBy: null,
      createdAt: now,
      revokedAt: null,
    },
    systemDraft("key.created", "bootstrap", "first start", { key_id: id, role: "admin", name: "bootstrap-admin" }, now),
  );
  try {
    await insert;
  } catch (e) {
    // Replicas starting together on an empty database all see no key: with the same AGENT_NONCE_ADMIN_KEY, the
    // first insert wins and the others find it installed. (Without one, each would generate and print its own
    // admin key: start one replica first, or give the key.)
    if (given !== undefined && (await store.getApiKeyByHash(hashToken(given)))) return null;
    throw e;
  }
  return given ? null : key;
}
