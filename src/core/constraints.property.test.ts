import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileConstraints } from "./constraint-check.js";
import { inspectRequest } from "./request-inspection.js";

/**
 * Rule 11 against a reference model: whatever request fast-check builds (query + JSON or form body, with case
 * variants, Unicode folds, escaped and repeated keys, big and long numbers, `_method`), the gateway either refuses
 * it or every constrained field, as each common upstream reader would see it, satisfies its constraint. The model
 * is written independently of the implementation: its own key decoding, its own readers, BigInt arithmetic.
 */

/** A constraint holds for an array when it holds for every element (docs/api.md#constraints). */
const each = (ok: (v: Val) => boolean) => (v: Val) => (v.kind === "array" ? v.items.every(ok) : ok(v));

const CONSTRAINTS = { "body.amount": { min: 0, max: 5000 }, "body.sku": { eq: "sku_1" }, "query.limit": { max: 10 } };
const applied = compileConstraints(CONSTRAINTS).forRoute("POST", ["v1", "orders"]);
const FIELDS = [
  { name: "amount", source: "body", ok: each((v) => num(v, 0n, 5000n)) },
  { name: "sku", source: "body", ok: each((v) => (v.kind === "string" || v.kind === "text") && v.text === "sku_1") },
  { name: "limit", source: "query", ok: each((v) => num(v, null, 10n)) },
] as const;

/** A value as a reader sees it: JSON keeps kinds; query/form values are text. */
type Val =
  | { kind: "number" | "string" | "text" | "other"; text: string }
  | { kind: "array"; text: string; items: Val[] };

/** Exact comparison by BigInt: the value scaled by 10^40 against the bounds scaled the same way. */
function num(v: Val, lo: bigint | null, hi: bigint): boolean {
  const re = v.kind === "number" ? /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/ : /^(-?)(0|[1-9]\d*)(?:\.(\d+))?()$/;
  if (v.kind !== "number" && v.kind !== "text") return false;
  const m = re.exec(v.text);
  if (!m || (v.kind === "text" && v.text.length > 40)) return false;
  const frac = m[3] ?? "";
  const exp = Number(m[4] || "0") - frac.length + 40;
  if (exp < 0 || exp > 200) throw new Error("outside the generator's range");
  const scaled = BigInt(`${m[1]}${m[2]}${frac}`) * 10n ** BigInt(exp);
  const unit = 10n ** 40n;
  return (lo === null || scaled >= lo * unit) && scaled <= hi * unit;
}

/** Go's encoding/json fold (simple folding onto ASCII). */
const goFold = (k: string) =>
  k
    .replace(/\u017f/g, "s")
    .replace(/\u212a/g, "k")
    .toLowerCase();
/** PHP's base-name rewrite, then `[]` dropped. */
const phpName = (k: string) => k.replace(/^ +/, "").replace(/[ .]/g, "_").replace(/\[\]$/, "");

type Pair = [key: string, val: Val];

/** Each reader maps (query pairs, body pairs, field) → the values it would hand the application. */
const READERS: Record<string, (q: Pair[], b: Pair[], name: string, source: "body" | "query") => Val[]> = {
  firstWins: (q, b, n, s) => first((s === "body" ? b : q).filter(([k]) => k === n)),
  lastWins: (q, b, n, s) => last((s === "body" ? b : q).filter(([k]) => k === n)),
  goCaseInsensitiveLastWins: (q, b, n, s) => last((s === "body" ? b : q).filter(([k]) => goFold(k) === n)),
  phpLastWins: (q, b, n, s) => last((s === "body" ? b : q).filter(([k]) => phpName(k) === n)),
  railsQueryOverBody: (q, b, n) => {
    const fromQ = last(q.filter(([k]) => phpName(k) === n));
    return fromQ.length > 0 ? fromQ : last(b.filter(([k]) => phpName(k) === n));
  },
  laravelBodyOverQuery: (q, b, n) => {
    const fromB = last(b.filter(([k]) => k === n));
    return fromB.length > 0 ? fromB : last(q.filter(([k]) => k === n));
  },
};
const first = (ps: Pair[]) => ps.slice(0, 1).map((p) => p[1]);
const last = (ps: Pair[]) => ps.slice(-1).map((p) => p[1]);

// generators -----------------------------------------------------------------------------------------------

const NUMBERS = ["0", "5", "10", "11", "-1", "5000", "5001", "1e3", "5e3", "5.001e3", "10.0", "9007199254740993"];
const LONG = ["5000.00000000000000001", "4999.99999999999999999", "10.000000000000000001", "0.5"];
const TEXTS = ["sku_1", "SKU_1", "sku_2", "", "usd"];
const NAMES = ["amount", "sku", "limit", "_method"];

const spelling = fc
  .constantFrom(...NAMES)
  .chain((n) =>
    fc.constantFrom(
      n.toUpperCase(),
      n[0]?.toUpperCase() + n.slice(1),
      n.replace("s", "\u017f"),
      n.replace("k", "\u212a"),
      n.replace("_", "."),
      ` ${n}`,
      `${n}[]`,
      `${n}[0]`,
    ),
  );
/** Half the extra keys are harmless or exact repeats (so requests get through), half are other spellings. */
const keyVariant = fc.oneof(fc.constantFrom("other", "note", "amount", "sku", "limit"), spelling);
const textValue = fc.constantFrom(...NUMBERS, ...LONG, ...TEXTS);

/** Query and form pairs: raw key, raw value, and how the model decodes them. */
const formPairs = fc.array(fc.tuple(keyVariant, textValue), { maxLength: 3 });
const jsonValue = fc.oneof(
  fc.constantFrom(...NUMBERS, ...LONG).map((t) => ({ literal: t, val: { kind: "number", text: t } as Val })),
  fc
    .constantFrom(...TEXTS, "5000")
    .map((t) => ({ literal: JSON.stringify(t), val: { kind: "string", text: t } as Val })),
  fc.constantFrom("[1,2]", "[1,5001]", '["sku_1"]').map((t) => ({
    literal: t,
    val: {
      kind: "array",
      text: t,
      items: (JSON.parse(t) as unknown[]).map((x) => ({
        kind: typeof x === "number" ? "number" : "string",
        text: String(x),
      })),
    } as Val,
  })),
  fc
    .constantFrom('{"a":1}', "[[1]]", "null", "true")
    .map((t) => ({ literal: t, val: { kind: "other", text: t } as Val })),
);
/** JSON keys may also be written with escapes: `\u0061mount` decodes to `amount`. */
const jsonKey = fc.tuple(keyVariant, fc.boolean()).map(([k, escaped]) => ({
  raw: escaped ? JSON.stringify(k).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : JSON.stringify(k),
  key: k,
}));
const jsonPairs = fc.array(fc.tuple(jsonKey, jsonValue), { maxLength: 3 });

const encodeForm = (ps: ReadonlyArray<readonly [string, string]>) =>
  ps.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");

/** A base carrying each field once (value drawn) with random pairs spliced in: most bypasses are one pair away. */
const spliced = <T>(base: T[], extra: T[], at: number[]) => {
  const out = [...base];
  extra.forEach((e, i) => {
    out.splice((at[i] ?? 0) % (out.length + 1), 0, e);
  });
  return out;
};
const positions = fc.array(fc.nat(8), { minLength: 5, maxLength: 5 });
/** Mostly valid for both `amount` and `limit` (so requests get through and reach the readers), sometimes not. */
const baseNumber = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("0", "5", "10", "10.0", "1e1", "9.99999999999999999999") },
  { weight: 2, arbitrary: fc.constantFrom(...LONG, "5000.00000000000000001", "10.000000000000000001") },
  { weight: 1, arbitrary: fc.constantFrom(...NUMBERS) },
);
const baseSku = fc.constantFrom("sku_1", "sku_1", "sku_1", "sku_2");

const request = fc.record({
  query: fc
    .tuple(formPairs, positions, baseNumber)
    .map(([extra, at, limit]) => spliced([["limit", limit] as [string, string]], extra, at)),
  body: fc.oneof(
    fc.tuple(formPairs, positions, baseNumber, baseSku).map(([extra, at, amount, sku]) => {
      const ps = spliced<[string, string]>(
        [
          ["amount", amount],
          ["sku", sku],
        ],
        extra,
        at,
      );
      return {
        type: "application/x-www-form-urlencoded",
        text: encodeForm(ps),
        pairs: ps.map(([k, v]) => [k, { kind: "text", text: v }] as Pair),
      };
    }),
    fc.tuple(jsonPairs, positions, baseNumber, baseSku).map(([extra, at, amount, sku]) => {
      const base = [
        { k: { raw: '"amount"', key: "amount" }, v: { literal: amount, val: { kind: "number", text: amount } as Val } },
        {
          k: { raw: '"sku"', key: "sku" },
          v: { literal: JSON.stringify(sku), val: { kind: "string", text: sku } as Val },
        },
      ];
      const ps = spliced(
        base,
        extra.map(([k, v]) => ({ k, v })),
        at,
      );
      return {
        type: "application/json",
        text: `{${ps.map(({ k, v }) => `${k.raw}:${v.literal}`).join(",")}}`,
        pairs: ps.map(({ k, v }) => [k.key, v.val] as Pair),
      };
    }),
  ),
});

function verdict(r: { query: Array<[string, string]>; body: { type: string; text: string } }) {
  return inspectRequest(applied, {
    method: "POST",
    query: encodeForm(r.query),
    headers: { "content-type": r.body.type },
    body: Buffer.from(r.body.text),
    overrideMatters: true,
  });
}

describe("constraint checker vs the reference model (seeded)", () => {
  it("every request is refused or every reader sees only values that satisfy the constraints", () => {
    let accepted = 0;
    fc.assert(
      fc.property(request, (r) => {
        if (verdict(r) !== null) return;
        accepted++;
        const q: Pair[] = r.query.map(([k, v]) => [k, { kind: "text", text: v }]);
        const b = r.body.pairs;
        for (const [reader, read] of Object.entries(READERS)) {
          for (const f of FIELDS) {
            for (const v of read(q, b, f.name, f.source)) {
              expect(f.ok(v), `${reader} reads ${f.name}=${v.text}`).toBe(true);
            }
          }
          // No reader sees a method override.
          expect(read(q, b, "_method", "query").concat(read(q, b, "_method", "body")), reader).toEqual([]);
        }
        // A constrained field is present where it belongs.
        for (const f of FIELDS) expect(READERS.lastWins?.(q, b, f.name, f.source).length, f.name).toBe(1);
      }),
      { seed: 20260511, numRuns: 500 },
    );
    // Not vacuous: a share of the generated requests get through and are checked against every reader.
    expect(accepted).toBeGreaterThan(10);
  });

  it("a clean request (each field once, exact key, within its constraint) is accepted", () => {
    const clean = fc.record({
      amount: fc.constantFrom("0", "5000", "1e3", "4999.99999999999999999", "0.5"),
      limit: fc.constantFrom("0", "10", "10.0", "-1", "3"),
      extra: fc.array(fc.tuple(fc.constantFrom("note", "currency", "meta"), fc.constantFrom('"x"', "1", "[1]")), {
        maxLength: 3,
      }),
      json: fc.boolean(),
    });
    fc.assert(
      fc.property(clean, (c) => {
        const extras = [...new Map(c.extra)];
        const body = c.json
          ? {
              type: "application/json",
              text: `{"amount":${c.amount},"sku":"sku_1"${extras.map(([k, v]) => `,"${k}":${v}`).join("")}}`,
            }
          : {
              type: "application/x-www-form-urlencoded",
              text: `amount=${c.amount.includes("e") ? "1000" : c.amount}&sku=sku_1`,
            };
        expect(verdict({ query: [["limit", c.limit]], body })).toBeNull();
      }),
      { seed: 20260511, numRuns: 500 },
    );
  });
});
