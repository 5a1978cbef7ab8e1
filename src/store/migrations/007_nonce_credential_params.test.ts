import { afterEach, describe, expect, it } from "vitest";
import { auditDraftRecord, nonceRecord } from "../../test/records.js";
import { dialects } from "../../test/stores.js";
import type { Store } from "../store.js";

const T0 = Date.UTC(2026, 0, 1);

describe.each(dialects)("migration 7 (nonce credential_params) on $name", (d) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it.skipIf(d.skip)(
    "stores a github_app nonce's repositories and reads them back; static nonces have none",
    async () => {
      store = await d.create();
      const params = { github: { repositories: ["octo-org/api", "octo-org/web"] } };
      const { token: _t, ...rec } = nonceRecord({ credentialParams: params }, T0);
      await store.insertNonce(rec, auditDraftRecord("nonce.issued", { nonceId: rec.id }, T0));
      expect((await store.getNonce(rec.id))?.credentialParams).toEqual(params);
      expect((await store.getNonceByKey(rec.tokenKey))?.credentialParams).toEqual(params);
      const { token: _p, ...plain } = nonceRecord({}, T0 + 1);
      await store.insertNonce(plain, auditDraftRecord("nonce.issued", { nonceId: plain.id }, T0 + 1));
      expect((await store.getNonce(plain.id))?.credentialParams).toBeUndefined();
    },
  );
});
