import { mkdirSync } from "node:fs";
import path from "node:path";
import { AppError } from "../core/errors.js";
import { createPostgresStore } from "./postgres.js";
import { createSqliteStore, type SqliteRuntimeOptions } from "./sqlite.js";
import type { Store } from "./store.js";

export { createPostgresStore } from "./postgres.js";
export { createSqliteStore } from "./sqlite.js";
export type { Store } from "./store.js";

/**
 * Opens the configured store (not yet migrated): `postgres://` / `postgresql://` → PostgreSQL; `sqlite:<path>`
 * (absolute, or relative to the working directory) or nothing → SQLite (default `<dataDir>/agent-nonce.db`). The data dir is created 0700 if missing.
 */
export async function openStore(
  c: {
    databaseUrl?: string | undefined;
    dataDir: string;
    sqliteSynchronous: "NORMAL" | "FULL";
  },
  sqliteOpts: SqliteRuntimeOptions = {},
): Promise<Store> {
  const url = c.databaseUrl;
  if (url !== undefined && /^postgres(ql)?:\/\//i.test(url)) return createPostgresStore({ connectionString: url });
  let filename = path.join(c.dataDir, "agent-nonce.db");
  if (url !== undefined) {
    if (!url.startsWith("sqlite:")) {
      // Never echo the URL: it may carry a password.
      throw new AppError("invalid_request", "database URL must start with postgres://, postgresql:// or sqlite:");
    }
    // sqlite:/abs, sqlite:///abs and sqlite:relative (to the working directory) are all accepted.
    const p = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (p === "" || p.startsWith("//")) throw new AppError("invalid_request", "sqlite: database URL needs a file path");
    filename = path.resolve(p);
  }
  mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.dirname(filename), { recursive: true, mode: 0o700 });
  return createSqliteStore({ filename, synchronous: c.sqliteSynchronous, ...sqliteOpts });
}
