import { type CompiledQuery, Kysely, SqliteDialect } from "kysely";
import { isUsable, nonceStatus } from "../core/nonces.js";
import type { AuditDraft, AuditEvent, NonceRecord } from "../core/types.js";
import { sqliteApprovals } from "./approvals-sqlite.js";
import { AuditListeners } from "./audit-listeners.js";
import { checkpointMethods } from "./checkpoints.js";
import { IssuedNonces } from "./issued-nonces.js";
import { ancestorsAlive, cascadeDraft, lineageStatus } from "./lineage.js";
import { pending } from "./migrations/index.js";
import { rateDecision, rejectReason, serviceAuditType } from "./outcomes.js";
import {
  listAuditIndexedQuery,
  listAuditQuery,
  listNoncesQuery,
  revokeNoncesQuery,
  scanAuditQuery,
} from "./queries.js";
import {
  apiKeyFromRow,
  apiKeyToRow,
  auditCursor,
  eventFromRow,
  nonceCursor,
  nonceFromRow,
  nonceToRow,
  pageOf,
  serviceFromRow,
  serviceToRow,
  stateFromRow,
} from "./rows.js";
import type { ApiKeyRow, AuditRow, Database, NonceRow, NonceStateRow, ServiceRow } from "./schema.js";
import { AuditIndexer, pruneAuditRows } from "./sqlite-audit-index.js";
import { groupCommit, type TxState, writeTx } from "./sqlite-batch.js";
import { SqliteChain } from "./sqlite-chain.js";
import { startCheckpointer } from "./sqlite-checkpointer.js";
import { migrateSqlite, openSqlite, restrictSidecars } from "./sqlite-open.js";
import { API_KEYS, CHECKPOINTS, NONCES, type NonceUseState, prepare, SCHEMA, SERVICES } from "./sqlite-sql.js";
import { DEFAULT_SQLITE_SYNCHRONOUS, type SqliteSynchronous } from "./sqlite-synchronous.js";
import type { ConsumeResult, Store } from "./store.js";
import { sqliteTrustMethods } from "./trust.js";

/**
 * SQLite dialect (better-sqlite3). Every write transaction is synchronous (`db.transaction(...).immediate()`):
 * nothing else can run on this connection in the middle of one, so the audit chain head needs no other lock,
 * and IMMEDIATE makes a second process wait (busy_timeout) rather than fail. The per-request writes (consume,
 * issue, audit append) are group-committed (sqlite-batch.ts). kysely builds the filtered
 * queries and runs the plain reads; hot paths use statements prepared once. Every SQLite statement text is in
 * sqlite-sql.ts.
 */
const CLEANUP_SLICE = 1000;

/**
 * For a long-running server: WAL checkpoints on a worker thread (sqlite-checkpointer.ts), audit_index caught up
 * on a timer (sqlite-audit-index.ts; otherwise only before filtered reads and on close), warnings to its log.
 */
export interface SqliteRuntimeOptions {
  backgroundCheckpoints?: boolean;
  backgroundAuditIndex?: boolean;
  onWarning?: (message: string) => void;
}

export async function createSqliteStore(
  opts: { filename: string; synchronous?: SqliteSynchronous } & SqliteRuntimeOptions,
): Promise<Store> {
  const db = openSqlite(opts.filename, opts.synchronous ?? DEFAULT_SQLITE_SYNCHRONOUS);
  const checkpointer = opts.backgroundCheckpoints
    ? startCheckpointer(db, opts.filename, (reason) =>
        opts.onWarning?.(`${reason}: SQLite checkpoints run on the request path again`),
      )
    : null;
  const k = new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) });
  let st: ReturnType<typeof prepare> | undefined;
  // Prepared lazily: the tables exist only after migrate().
  const S = () => {
    st ??= prepare(db);
    return st;
  };

  const all = <R>(q: CompiledQuery<R>): R[] => db.prepare(q.sql).all(...(q.parameters as unknown[])) as R[];

  const listeners = new AuditListeners();
  // The fixed part of nonces the consume has read (issued-nonces.ts).
  const issued = new IssuedNonces();
  let chain: SqliteChain | undefined;
  // Prepared lazily, like the statements.
  const C = () => {
    chain ??= new SqliteChain(db);
    return chain;
  };
  const append = (drafts: readonly AuditDraft[]): AuditEvent[] => C().append(drafts);
  const state: TxState = {
    begin: () => C().begin(),
    mark: () => C().mark(),
    undo: (m) => C().undo(m),
    beforeCommit: () => C().beforeCommit(),
    settle: (ok) => C().settle(ok),
  };

  const tx = <R>(fn: () => R) => {
    return (): R => {
      const { value, events } = C().capture(() => writeTx(db, state, fn));
      listeners.emit(events);
      return value;
    };
  };

  const groupCommitter = groupCommit(db, state);
  const auditIndex = new AuditIndexer(db, state, {
    background: opts.backgroundAuditIndex ?? false,
    onWarning: opts.onWarning,
  });
  // Batched writes settle only after their transaction committed: report their events then, in job order.
  const batch = {
    run: <T>(fn: () => T): Promise<T> =>
      groupCommitter
        .run(() => C().capture(fn))
        .then(({ value, events }) => {
          listeners.emit(events);
          return value;
        }),
    drain: () => groupCommitter.drain(),
  };

  const stateById = (id: string) => S().nonceStateById.get(id) as NonceStateRow | undefined;
  const nonceById = (id: string) => {
    const row = S().nonceById.get(id) as NonceRow | undefined;
    return row ? nonceFromRow(row) : undefined;
  };
  /** Revokes every live descendant of `id` (same transaction as the caller's), one event each. */
  const revokeDescendants = (id: string, now: number, audit: (n: NonceRecord) => AuditDraft) => {
    const rows = (S().revokeDescendants.all(id, now) as NonceRow[]).map(nonceFromRow);
    rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    append(rows.map((n) => cascadeDraft(audit(n), id)));
  };

  const consume = (
    key: Buffer,
    now: number,
    onOk: (n: NonceRecord) => AuditDraft,
    onReject: Parameters<Store["consumeNonce"]>[3],
  ): ConsumeResult => {
    const s = S();
    // Runs inside the batch's write transaction (consumeNonce): nothing changes the row between read and update.
    const use = s.nonceForUse.get(key) as NonceUseState | undefined;
    const fixed = use ? issued.get(use[1], () => nonceById(use[1])) : undefined;
    // The fixed part with the row's current use state: a fresh object, so the caller may change it.
    const nonce: NonceRecord | null = use && fixed ? { ...fixed, uses: use[2], revokedAt: use[3] } : null;
    // Delegated nonces: the ancestors are read in the same IMMEDIATE transaction (store/lineage.ts).
    const lineageOk = !nonce?.parentId || ancestorsAlive(stateById, nonce.parentId, now);
    if (use && nonce && isUsable(nonce, now) && lineageOk) {
      // A live nonce's rate is decided only now: a dead one is refused for being dead, whatever its rate.
      const rate = rateDecision({ rate: nonce.rate ?? null, rate_tat: use[4], rate_tat_frac: use[5] ?? 0 }, now);
      if (rate?.ok === false) {
        const draft = onReject("rate_limited", nonce);
        if (draft) append([draft]);
        return { ok: false, reason: "rate_limited", retryAfterMs: rate.retryAfterMs, nonce };
      }
      if (rate) s.countRatedUse.run(rate.tat.ms, rate.tat.frac, use[0]);
      else s.countUse.run(use[0]);
      nonce.uses += 1;
      append([onOk(nonce)]);
      return { ok: true, nonce };
    }
    const reason = lineageOk ? rejectReason(nonce, now) : "nonce_revoked";
    const draft = onReject(reason, nonce);
    if (draft) append([draft]);
    return { ok: false, reason, nonce };
  };

  const store: Store = {
    dialect: "sqlite",
    ...sqliteApprovals(db, tx, append, (n) => S().insertNonce.run(nonceToRow(n))),

    async migrate() {
      migrateSqlite(db, Date.now());
      restrictSidecars(opts.filename);
      auditIndex.start();
    },

    async close() {
      if (!db.open) return;
      batch.drain();
      auditIndex.finish();
      await checkpointer?.stop();
      db.close();
    },

    async ping() {
      db.prepare(SCHEMA.ping).get();
    },

    async pendingMigrations() {
      const exists = db.prepare(SCHEMA.migrationsTableExists).get();
      if (!exists) return pending([]).map((m) => m.version);
      const applied = db.prepare(SCHEMA.appliedMigrations).pluck().all() as number[];
      return pending(applied).map((m) => m.version);
    },

    async putService(s, audit) {
      return tx(() => {
        const created = S().serviceExists.get(s.name) === undefined;
        S().upsertService.run(serviceToRow(s, "sqlite"));
        append([{ ...audit, type: serviceAuditType(audit.type, created) }]);
        return created;
      })();
    },

    async getService(name) {
      const row = await k.selectFrom("services").selectAll().where("name", "=", name).executeTakeFirst();
      return row ? serviceFromRow(row as ServiceRow) : undefined;
    },

    async listServices() {
      const rows = await k.selectFrom("services").selectAll().orderBy("name").execute();
      return rows.map((r) => serviceFromRow(r as ServiceRow));
    },

    async deleteService(name, now, audit) {
      return tx(() => {
        if (db.prepare(SERVICES.deleteService).run(name).changes === 0) return false;
        db.prepare(NONCES.revokeForService).run(now, name, now);
        append([audit]);
        return true;
      })();
    },

    async setCredential(name, sealed, fingerprint, now, audit, expectedFingerprint) {
      return tx(() => {
        const r =
          expectedFingerprint === undefined
            ? db.prepare(SERVICES.setCredential).run(sealed, fingerprint, now, name)
            : db.prepare(SERVICES.setCredentialIfFingerprint).run(sealed, fingerprint, now, name, expectedFingerprint);
        if (r.changes === 0) return false;
        append([audit]);
        return true;
      })();
    },

    async rewrapCredentials(rewrap) {
      return tx(() => {
        const rows = db.prepare(SERVICES.sealedCredentials).all() as { name: string; credential: Buffer }[];
        const update = db.prepare(SERVICES.rewrapCredential);
        let n = 0;
        for (const r of rows) {
          const next = rewrap(r.name, r.credential);
          if (next.equals(r.credential)) continue;
          update.run(next, r.name);
          n += 1;
        }
        return n;
      })();
    },

    async insertApiKey(key, audit) {
      tx(() => {
        S().insertApiKey.run(apiKeyToRow(key));
        if (audit) append([audit]);
      })();
    },

    async getApiKeyByHash(hash) {
      const row = S().apiKeyByHash.get(hash) as ApiKeyRow | undefined;
      return row ? apiKeyFromRow(row) : undefined;
    },

    async getApiKey(id) {
      const row = await k.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? apiKeyFromRow(row) : undefined;
    },

    async listApiKeys() {
      const rows = await k.selectFrom("api_keys").selectAll().orderBy("id").execute();
      return rows.map(apiKeyFromRow);
    },

    async countApiKeys() {
      const r = await k
        .selectFrom("api_keys")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },

    async revokeApiKey(id, now, audit) {
      return tx(() => {
        const r = db.prepare(API_KEYS.revokeApiKey).run(now, id);
        if (r.changes === 0) return false;
        append([audit]);
        return true;
      })();
    },

    async insertNonce(n, audit) {
      await batch.run(() => {
        S().insertNonce.run(nonceToRow(n));
        append([audit]);
      });
    },

    async getNonce(id) {
      return nonceById(id);
    },

    async getNonceByKey(key) {
      const row = S().nonceByKey.get(key) as NonceRow | undefined;
      return row ? nonceFromRow(row) : undefined;
    },

    async getNonceStatus(key, now) {
      const row = S().nonceStateByKey.get(key) as NonceStateRow | undefined;
      if (!row) return undefined;
      return lineageStatus(nonceStatus(stateFromRow(row), now), ancestorsAlive(stateById, row.parent_id, now));
    },

    async listNonces(filter, page, now) {
      const rows = await listNoncesQuery(k, filter, page, now).execute();
      return pageOf(rows as NonceRow[], page.limit, nonceFromRow, (r) => nonceCursor.encode(r.id));
    },

    async consumeNonce(key, now, onOk, onReject) {
      return batch.run(() => consume(key, now, onOk, onReject));
    },

    async revokeNonce(id, now, audit) {
      return tx(() => {
        const s = S();
        const revoked = s.revokeOne.get(now, id) as NonceRow | undefined;
        if (revoked) {
          const n = nonceFromRow(revoked);
          append([audit(n)]);
          revokeDescendants(id, now, audit);
          return n;
        }
        return nonceById(id);
      })();
    },

    async revokeNonces(filter, now, audit) {
      const q = revokeNoncesQuery(k, filter, now).compile();
      return tx(() => {
        const rows = all(q).map((r) => nonceFromRow(r as NonceRow));
        rows.sort((a, b) => (a.id < b.id ? -1 : 1));
        append(rows.map(audit));
        for (const n of rows) revokeDescendants(n.id, now, audit);
        return rows.length;
      })();
    },

    async deleteExpiredNonces(before, limit) {
      // In slices of CLEANUP_SLICE rows, each its own transaction, yielding to the event loop in between: a
      // large cleanup never holds the connection (and the gateway's writes) for more than one slice.
      const del = S().deleteExpired;
      let total = 0;
      while (total < limit) {
        const n = del.run(before, Math.min(CLEANUP_SLICE, limit - total)).changes;
        total += n;
        if (n < CLEANUP_SLICE || total >= limit || !db.open) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!db.open) break;
      }
      return total;
    },

    async appendAudit(drafts) {
      if (drafts.length === 0) return [];
      return batch.run(() => append(drafts));
    },

    async listAudit(filter, page) {
      const rows = await auditIndex.read(
        () => all(listAuditIndexedQuery(k, filter, page).compile()),
        () => all(listAuditQuery(k, filter, page).compile()),
      );
      return pageOf(rows as AuditRow[], page.limit, eventFromRow, (r) => auditCursor.encode(r.seq));
    },

    async scanAudit(afterSeq, limit) {
      const rows = await scanAuditQuery(k, afterSeq, limit).execute();
      return rows.map((r) => eventFromRow(r as AuditRow));
    },

    async auditHead() {
      const h = S().head.get() as { seq: number; hash: string };
      return { seq: h.seq, hash: h.hash };
    },

    onAuditCommitted(listener) {
      return listeners.add(listener);
    },

    ...checkpointMethods(k),
    ...sqliteTrustMethods(k, db, tx, append),

    async pruneAudit(throughSeq, limit) {
      return tx(() => {
        const n = pruneAuditRows(db, throughSeq, limit);
        db.prepare(CHECKPOINTS.pruneBefore).run(throughSeq);
        return n;
      })();
    },
  };

  return store;
}
