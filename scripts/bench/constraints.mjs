import { Bench } from "tinybench";
import { compileConstraints } from "../../dist/core/constraint-check.js";
import { inspectRequest, needsBody } from "../../dist/core/request-inspection.js";
import { compileRoutes } from "../../dist/core/scopes.js";
import { overrideMatters } from "../../dist/gateway/constraint-gate.js";

/**
 * Per-request cost of the rule 11 checks (pure work only: no sockets, no body read), on the built tree.
 * Usage: npm run build && node scripts/bench/constraints.mjs [benchMs]
 */

const ms = Number(process.argv[2] ?? 1000);
const seg = ["v1", "refunds"];
const matcher = compileRoutes(["POST /v1/refunds", "GET /v1/charges/{id}"]);
const checker = compileConstraints({
  "query.limit": { max: 100 },
  "POST /v1/refunds": {
    "body.amount": { min: 1, max: 5000 },
    "body.currency": { in: ["usd", "eur"] },
    "body.metadata.order_id": { pattern: "ord_[0-9]+" },
  },
});
const applied = checker.forRoute("POST", seg);
const json = Buffer.from(
  JSON.stringify({
    amount: 4200,
    currency: "usd",
    charge: "ch_3MmlLrLkdIwHu7ix0snN0B15",
    reason: "requested_by_customer",
    metadata: { order_id: "ord_123456", note: "customer called" },
  }),
);
const form = Buffer.from(
  "amount=4200&currency=usd&charge=ch_3MmlLrLkdIwHu7ix0snN0B15&reason=requested_by_customer&metadata[order_id]=ord_123456",
);
const bigJson = Buffer.from(
  JSON.stringify({
    amount: 4200,
    currency: "usd",
    metadata: { order_id: "ord_1" },
    items: Array.from({ length: 200 }, (_, i) => ({ id: `it_${i}`, qty: i, price: 1999 })),
  }),
);
const view = (type, body, query = "limit=10") => ({
  method: "POST",
  query,
  headers: { "content-type": type },
  body,
  overrideMatters: true,
});

const bench = new Bench({ time: ms, warmupTime: Math.min(300, ms / 2) });
bench
  .add("fast path: no constraints, no override (needsBody + query scan)", () => {
    needsBody(null, "GET", false, undefined, () => false);
    inspectRequest(null, {
      method: "GET",
      query: "limit=10&expand[]=customer",
      headers: {},
      body: null,
      overrideMatters: false,
    });
  })
  .add("overrideMatters (4 verbs + route-scoped check)", () => overrideMatters(matcher, checker, seg))
  .add("JSON refund body (~190 B): constraints + cross-checks + _method", () =>
    inspectRequest(applied, view("application/json", json)),
  )
  .add("form refund body (~120 B)", () => inspectRequest(applied, view("application/x-www-form-urlencoded", form)))
  .add("JSON body with 200 line items (~9 KiB)", () => inspectRequest(applied, view("application/json", bigJson)))
  .add("baseline: JSON.parse of the refund body alone", () => JSON.parse(json.toString()));

await bench.run();
console.log(`node ${process.version}, ${ms} ms per task`);
console.table(
  bench.tasks.map((t) => ({
    task: t.name,
    "mean µs": ((t.result?.mean ?? Number.NaN) * 1000).toFixed(2),
    "p75 µs": ((t.result?.p75 ?? Number.NaN) * 1000).toFixed(2),
    "p99 µs": ((t.result?.p99 ?? Number.NaN) * 1000).toFixed(2),
    "ops/s": Math.round(t.result?.hz ?? 0),
  })),
);
