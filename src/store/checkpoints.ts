import type { Kysely } from "kysely";
import { latestCheckpointQuery, listCheckpointsQuery } from "./queries.js";
import { checkpointFromRow, checkpointToRow } from "./rows.js";
import type { AuditCheckpointRow, Database } from "./schema.js";
import type { AuditCheckpointStore } from "./store.js";

/** Signed audit checkpoints: the same kysely queries on both dialects (not on the hot path). */
export function checkpointMethods(
  k: Kysely<Database>,
): Pick<AuditCheckpointStore, "insertCheckpoint" | "listCheckpoints" | "latestCheckpoint"> {
  return {
    async insertCheckpoint(c) {
      await k.insertInto("audit_checkpoints").values(checkpointToRow(c)).execute();
    },

    async listCheckpoints(afterSeq, limit) {
      const rows = await listCheckpointsQuery(k, afterSeq, limit).execute();
      return rows.map((r) => checkpointFromRow(r as AuditCheckpointRow));
    },

    async latestCheckpoint(opts) {
      const row = await latestCheckpointQuery(k, opts).executeTakeFirst();
      return row ? checkpointFromRow(row as AuditCheckpointRow) : undefined;
    },
  };
}
