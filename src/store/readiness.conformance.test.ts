import { afterEach, describe, expect, it } from "vitest";
import { type RawStore, rawDialects } from "../test/raw-stores.js";
import { MIGRATIONS } from "./migrations/index.js";

/** Readiness (`GET /readyz`): a store is current only when every migration this build knows is applied. */
describe.each(rawDialects)("pendingMigrations ($name)", (d) => {
  let raw: RawStore | undefined;
  afterEach(async () => {
    await raw?.close();
    raw = undefined;
  });

  it.skipIf(d.skip)(
    "is empty once migrated, names a version whose row is missing, empty again after migrate",
    async () => {
      raw = await d.create();
      expect(await raw.store.pendingMigrations()).toEqual([]);
      const last = MIGRATIONS.at(-1)?.version ?? 0;
      await raw.exec(`DELETE FROM schema_migrations WHERE version = ${last}`);
      expect(await raw.store.pendingMigrations()).toEqual([last]);
      await raw.exec("DROP TABLE schema_migrations");
      expect(await raw.store.pendingMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
    },
  );
});
