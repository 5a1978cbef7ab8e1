import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditDraft, TrustRecord } from "../core/types.js";
import { auditDraftRecord } from "../test/records.js";
import { dialects } from "../test/stores.js";
import type { Store } from "./store.js";

/** The trust_relationships table (migration 008) on both dialects: round trip, audited writes, created vs updated. */
const T0 = 1_800_000_000_000;
const draft = (type: AuditDraft["type"]): AuditDraft =>
  auditDraftRecord(type, { actor: { type: "api_key", id: "key_admin", name: "admin" } }, T0);

const trust = (over: Partial<TrustRecord> = {}): TrustRecord => ({
  name: "gha",
  issuer: "https://token.actions.githubusercontent.com",
  audience: "agent-nonce",
  subject: "repo:acme/*:environment:prod",
  claims: { repository: "acme/app" },
  role: "issuer",
  policy: { allow: [{ service: "stripe", scopes: ["read:customers"] }] },
  jwksUri: null,
  insecureIssuer: false,
  createdAt: T0,
  updatedAt: T0,
  ...over,
});

describe.each(dialects)("trust relationships ($name)", (d) => {
  describe.skipIf(d.skip)(d.name, () => {
    let store: Store;
    beforeEach(async () => {
      store = await d.create();
    });
    afterEach(async () => {
      await store?.close();
    });

    it("round-trips every field and records created, then updated, in the same transaction", async () => {
      expect(await store.putTrust(trust(), draft("trust.updated"))).toBe(true);
      expect(await store.getTrust("gha")).toEqual(trust());
      const k8s = trust({
        name: "k8s",
        issuer: "http://127.0.0.1:1",
        subject: null,
        claims: null,
        role: "auditor",
        policy: null,
        jwksUri: "http://127.0.0.1:1/keys",
        insecureIssuer: true,
      });
      expect(await store.putTrust(k8s, draft("trust.created"))).toBe(true);
      expect(await store.putTrust(trust({ audience: "x", updatedAt: T0 + 1 }), draft("trust.created"))).toBe(false);
      expect(await store.getTrust("gha")).toEqual(trust({ audience: "x", updatedAt: T0 + 1 }));
      expect((await store.listTrusts()).map((t) => t.name)).toEqual(["gha", "k8s"]);
      expect(await store.getTrust("k8s")).toEqual(k8s);
      const events = await store.scanAudit(0, 10);
      expect(events.map((e) => e.type)).toEqual(["trust.created", "trust.created", "trust.updated"]);
    });

    it("deletes once, with its event; a missing trust is false and writes nothing", async () => {
      await store.putTrust(trust(), draft("trust.created"));
      expect(await store.deleteTrust("gha", draft("trust.deleted"))).toBe(true);
      expect(await store.deleteTrust("gha", draft("trust.deleted"))).toBe(false);
      expect(await store.getTrust("gha")).toBeUndefined();
      expect((await store.scanAudit(0, 10)).map((e) => e.type)).toEqual(["trust.created", "trust.deleted"]);
    });
  });
});
