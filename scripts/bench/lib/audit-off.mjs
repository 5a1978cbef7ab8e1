import Database from "better-sqlite3";
import pg from "pg";

/**
 * "Audit off" for B6, built only here, never a production switch: the same server and the same code path, on
 * a throwaway database where every audit row insert is discarded by a BEFORE INSERT trigger (SQLite
 * RAISE(IGNORE), PostgreSQL RETURN NULL). What remains is the JS side of an audit write (draft, chain hash)
 * and the chain-head read/update, so the difference measured is the cost of storing the audit rows (a row
 * plus 8 indexes per event). A Store-level wrapper cannot drop the audit row written inside
 * insertNonce/consumeNonce's own transaction without re-implementing them, which would measure other code.
 */
export function auditOffSqlite(filename) {
  const db = new Database(filename);
  db.pragma("busy_timeout = 5000");
  db.exec("CREATE TRIGGER IF NOT EXISTS bench_audit_off BEFORE INSERT ON audit_events BEGIN SELECT RAISE(IGNORE); END");
  db.close();
}

export async function auditOffPostgres(url) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE OR REPLACE FUNCTION bench_audit_off() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RETURN NULL; END $$`);
  await c.query(
    "CREATE TRIGGER bench_audit_off BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION bench_audit_off()",
  );
  await c.end();
}
