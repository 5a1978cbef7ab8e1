import { randomBytes } from "node:crypto";

/** Control-plane calls the bench needs (plain fetch against the real API): a service, its credential, nonces. */

export const ISSUE_BODY = JSON.stringify({ service: "bench", scope: "read", agent: "bench-agent", ttl: "5m" });

async function call(apiUrl, adminKey, method, path, body) {
  const r = await fetch(apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function seedService(apiUrl, adminKey, upstreamOrigin) {
  await call(apiUrl, adminKey, "PUT", "/v1/services/bench", {
    upstream: upstreamOrigin,
    insecure_upstream: true,
    auth: { type: "bearer" },
    scopes: { read: ["GET /v1/**"] },
  });
  await call(apiUrl, adminKey, "PUT", "/v1/services/bench/credential", {
    secret: `sk_test_FAKE_${randomBytes(12).toString("hex")}`,
  });
}

/** A nonce the gateway workloads reuse: unlimited uses, long TTL (the bench config raises the TTL cap). */
export async function issueLongNonce(apiUrl, adminKey) {
  const r = await call(apiUrl, adminKey, "POST", "/v1/nonces", {
    service: "bench",
    scope: "read",
    agent: "bench-agent",
    ttl: "6h",
  });
  return r.nonce;
}
