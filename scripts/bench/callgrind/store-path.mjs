// Instructions per gateway-shaped store request (consume + nonce.used, plus one nonce.completed append), 12 in flight,
// then one filtered audit read (which catches audit_index up where the tree has it). Driven by run.mjs.
const [root, nStr] = process.argv.slice(2);
const N = Number(nStr);
const { createSqliteStore } = await import(`${root}/dist/store/sqlite.js`);
const { nonceDraft } = await import(`${root}/dist/app/audit-draft.js`);
const tk = await import(`${root}/dist/core/tokens.js`);
const { newId } = await import(`${root}/dist/core/ids.js`);
const { mkdtempSync, rmSync } = await import("node:fs");
const dir = mkdtempSync("/tmp/cg-");
const store = await createSqliteStore({ filename: `${dir}/db.sqlite`, synchronous: "NORMAL" });
await store.migrate();
const T0 = Date.UTC(2026, 0, 1);
const isNew = typeof tk.tokenKey === "function";
const token = isNew ? tk.generateToken("an", T0) : tk.generateToken("an");
const key = isNew ? tk.tokenKey(token) : tk.hashToken(token);
const rec = {
  id: newId("nce", T0),
  service: "bench",
  scopes: ["read"],
  routes: ["GET /v1/*"],
  agent: "bench-agent",
  task: "t",
  maxUses: null,
  uses: 0,
  constraints: null,
  metadata: null,
  rate: null,
  issuedBy: "key_x",
  createdAt: T0,
  expiresAt: T0 + 36e5,
  revokedAt: null,
};
if (isNew) rec.tokenKey = key;
else rec.tokenHash = key;
await store.insertNonce(rec, {
  id: newId("evt", T0),
  time: T0,
  type: "nonce.issued",
  actor: null,
  agent: "bench-agent",
  task: "t",
  nonceId: rec.id,
  service: "bench",
  scopes: ["read"],
  reason: null,
  request: null,
  sourceIp: null,
  data: null,
});
const at = { now: T0 + 1, sourceIp: "127.0.0.1", requestId: "req_01JDXXXXXXXXXXXXXXXXXXXXXX" };
const one = () =>
  Promise.all([
    store.consumeNonce(
      key,
      T0 + 1,
      (n) =>
        nonceDraft(
          "nonce.used",
          n,
          null,
          { method: "GET", path: "/v1/items", status: null, duration_ms: null, bytes: null },
          at,
        ),
      () => null,
    ),
    store.appendAudit([
      nonceDraft(
        "nonce.completed",
        rec,
        null,
        { method: "GET", path: "/v1/items", status: 200, duration_ms: 1.5, bytes: 512 },
        at,
      ),
    ]),
  ]);
for (let i = 0; i < N; i += 12) await Promise.all(Array.from({ length: 12 }, one));
await store.listAudit({ task: "t" }, { limit: 1 }); // the new tree catches its index up here
await store.close();
rmSync(dir, { recursive: true, force: true });
