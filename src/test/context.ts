import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AppContext } from "../app/context.js";
import { AppEvents } from "../app/events.js";
import { createLogger } from "../app/logger.js";
import { createMetrics } from "../app/metrics.js";
import { type ConfigInput, loadConfig } from "../config.js";
import { type Clock, ManualClock } from "../core/clock.js";
import type { MasterKeys } from "../core/crypto.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/store.js";

export type TestContext<C extends Clock = ManualClock> = Omit<AppContext, "clock"> & {
  /** A ManualClock unless another clock was passed in, so tests can move time without casts. */
  readonly clock: C;
  /** Temp data dir (removed by close()). */
  readonly dataDir: string;
  close(): Promise<void>;
};

/**
 * A real AppContext for tests: a migrated SQLite store in a fresh temp dir (unless `store` is given, which the
 * caller then owns and closes), a random master key (version 1), ManualClock, silent logger, own metrics registry.
 */
export async function testContext<C extends Clock = ManualClock>(
  opts: { store?: Store; clock?: C; config?: Partial<ConfigInput> } = {},
): Promise<TestContext<C>> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "agent-nonce-test-"));
  let store = opts.store;
  const owned = store === undefined;
  try {
    if (store === undefined) {
      store = await createSqliteStore({ filename: path.join(dataDir, "agent-nonce.db"), synchronous: "NORMAL" });
      await store.migrate();
    }
    const masterKeys: MasterKeys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };
    const s = store;
    return {
      config: loadConfig({ flags: { dataDir, logLevel: "silent", ...opts.config } }),
      store: s,
      masterKeys,
      clock: opts.clock ?? (new ManualClock() as Clock as C),
      log: createLogger("silent"),
      metrics: createMetrics({ defaultMetrics: false }),
      events: new AppEvents(),
      dataDir,
      async close() {
        if (owned) await s.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (owned) await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}
