import { readFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config.js";
import type { Clock } from "../core/clock.js";
import { type MasterKeys, rewrap } from "../core/crypto.js";
import { AppError } from "../core/errors.js";
import { openStore } from "../store/index.js";
import { systemDraft } from "./audit-draft.js";
import {
  addMasterKeyVersion,
  assertPrivate,
  loadMasterKeys,
  MASTER_KEY_FILE,
  writePrivateFileAtomic,
} from "./bootstrap.js";

/**
 * Master-key rotation, run with the servers stopped (a running server holds the key versions it loaded at start):
 * add a new key version to the key file, re-wrap every credential's data key under it in one transaction
 * (secrets are never re-encrypted or exposed), audit it, and optionally retire the old versions.
 */
export interface RotationResult {
  fromVersion: number;
  toVersion: number;
  credentials: number;
  retired: number[];
}

export async function rotateMasterKey(
  config: Config,
  clock: Clock,
  opts: { retire?: boolean } = {},
): Promise<RotationResult> {
  if (config.masterKey) {
    throw new AppError(
      "invalid_request",
      "the master key comes from AGENT_NONCE_MASTER_KEY: rotate it where it is stored, not with this command",
    );
  }
  const before = loadMasterKeys(config);
  const keys = addMasterKeyVersion(config);
  const store = await openStore(config);
  let credentials: number;
  try {
    await store.migrate();
    credentials = await store.rewrapCredentials((service, sealed) => rewrap(keys, service, sealed));
    await store.appendAudit([
      systemDraft(
        "master_key.rotated",
        "cli",
        "agent-nonce master-key rotate",
        { from_version: before.current, to_version: keys.current, credentials },
        clock.now(),
      ),
    ]);
  } finally {
    await store.close();
  }
  const retired = opts.retire ? retireOldVersions(config, keys) : [];
  return { fromVersion: before.current, toVersion: keys.current, credentials, retired };
}

/** Drops every version but the current one from the key file: only after every credential was re-wrapped. */
function retireOldVersions(config: Config, keys: MasterKeys): number[] {
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  assertPrivate(file);
  const parsed = JSON.parse(readFileSync(file, "utf8")) as { current: number; keys: Record<string, string> };
  const retired = Object.keys(parsed.keys)
    .map(Number)
    .filter((v) => v !== keys.current);
  for (const v of retired) delete parsed.keys[String(v)];
  writePrivateFileAtomic(file, `${JSON.stringify(parsed)}\n`);
  return retired;
}
