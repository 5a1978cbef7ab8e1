import type { Kysely } from "kysely";
import type pg from "pg";
import type { AuditDraft, AuditType, IssuerPolicy, TrustRecord } from "../core/types.js";
import type { Append } from "./postgres-tx.js";
import { TRUST_COLUMNS } from "./rows.js";
import type { Database, TrustRow } from "./schema.js";
import { TRUST } from "./sqlite-sql.js";
import type { TrustStore } from "./store.js";

/** OIDC trust relationships on both dialects: reads through kysely, writes in the dialect's audited transaction. */
type TrustMethods = TrustStore;

export function trustToRow(t: TrustRecord, dialect: "sqlite" | "postgres"): TrustRow {
  return {
    name: t.name,
    issuer: t.issuer,
    audience: t.audience,
    subject: t.subject,
    claims: t.claims === null ? null : JSON.stringify(t.claims),
    role: t.role,
    policy: t.policy === null ? null : JSON.stringify(t.policy),
    jwks_uri: t.jwksUri,
    insecure_issuer: dialect === "sqlite" ? (t.insecureIssuer ? 1 : 0) : t.insecureIssuer,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

export function trustFromRow(r: TrustRow): TrustRecord {
  return {
    name: r.name,
    issuer: r.issuer,
    audience: r.audience,
    subject: r.subject,
    claims: r.claims === null ? null : (JSON.parse(r.claims) as Record<string, string>),
    role: r.role as TrustRecord["role"],
    policy: r.policy === null ? null : (JSON.parse(r.policy) as IssuerPolicy),
    jwksUri: r.jwks_uri,
    insecureIssuer: r.insecure_issuer === true || r.insecure_issuer === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function trustAuditType(type: AuditType, created: boolean): AuditType {
  if (type !== "trust.created" && type !== "trust.updated") return type;
  return created ? "trust.created" : "trust.updated";
}

function reads(k: Kysely<Database>): Pick<TrustStore, "getTrust" | "listTrusts"> {
  return {
    async getTrust(name) {
      const row = await k.selectFrom("trust_relationships").selectAll().where("name", "=", name).executeTakeFirst();
      return row ? trustFromRow(row as TrustRow) : undefined;
    },
    async listTrusts() {
      const rows = await k.selectFrom("trust_relationships").selectAll().orderBy("name").execute();
      return rows.map((r) => trustFromRow(r as TrustRow));
    },
  };
}

/** SQLite: `tx` is the store's synchronous write transaction, `append` its in-transaction audit append. */
export function sqliteTrustMethods(
  k: Kysely<Database>,
  db: { prepare(sql: string): { get(...a: unknown[]): unknown; run(...a: unknown[]): { changes: number } } },
  tx: <R>(fn: () => R) => () => R,
  append: (drafts: readonly AuditDraft[]) => unknown,
): TrustMethods {
  return {
    ...reads(k),
    async putTrust(t, audit) {
      return tx(() => {
        const created = db.prepare(TRUST.trustExists).get(t.name) === undefined;
        const row = trustToRow(t, "sqlite");
        db.prepare(TRUST.upsertTrust).run(...TRUST_COLUMNS.map((c) => row[c]));
        append([{ ...audit, type: trustAuditType(audit.type, created) }]);
        return created;
      })();
    },
    async deleteTrust(name, audit) {
      return tx(() => {
        if (db.prepare(TRUST.deleteTrust).run(name).changes === 0) return false;
        append([audit]);
        return true;
      })();
    },
  };
}

/** PostgreSQL: `audited` is the store's audited transaction (chain head locked first). */
export function postgresTrustMethods(
  k: Kysely<Database>,
  pool: pg.Pool,
  audited: <T>(p: pg.Pool, fn: (c: pg.PoolClient, append: Append) => Promise<T>) => Promise<T>,
): TrustMethods {
  const upsert = `INSERT INTO trust_relationships (${TRUST_COLUMNS.join(", ")})
    VALUES (${TRUST_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
    ON CONFLICT (name) DO UPDATE SET ${TRUST_COLUMNS.filter((c) => c !== "name" && c !== "created_at")
      .map((c) => `${c} = excluded.${c}`)
      .join(", ")}`;
  return {
    ...reads(k),
    async putTrust(t, audit) {
      const row = trustToRow(t, "postgres");
      return audited(pool, async (c, append) => {
        const existing = await c.query("SELECT 1 FROM trust_relationships WHERE name = $1 FOR UPDATE", [t.name]);
        const created = existing.rowCount === 0;
        await c.query(
          upsert,
          TRUST_COLUMNS.map((col) => row[col]),
        );
        await append([{ ...audit, type: trustAuditType(audit.type, created) }]);
        return created;
      });
    },
    async deleteTrust(name, audit) {
      return audited(pool, async (c, append) => {
        const d = await c.query("DELETE FROM trust_relationships WHERE name = $1", [name]);
        if (d.rowCount === 0) return false;
        await append([audit]);
        return true;
      });
    },
  };
}
