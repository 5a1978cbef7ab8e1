/**
 * Finds the nonce the agent presented. Official SDKs put their API key in different places, so the gateway
 * accepts `Authorization: Bearer an_…`, `Authorization: token an_…` (GitHub style), `Authorization: Basic
 * base64(an_…:)` (either half of user:password) and `X-Agent-Nonce: an_…`. Every carrier is inspected on the raw
 * header list, so duplicates node would drop are seen too: two different `an_` tokens are a bad request, never
 * "first one wins". A non-nonce value in another carrier (an SDK's placeholder key in `Authorization` next to
 * `X-Agent-Nonce`) is ignored; it is stripped before forwarding like every carrier.
 *
 * Returns the candidate token (well-formedness is checked by the caller, without a store lookup), or a marker.
 */

export type NonceCarrierResult = { token: string } | { missing: true } | { conflict: true };

const MISSING: NonceCarrierResult = { missing: true };
const CONFLICT: NonceCarrierResult = { conflict: true };

function fromAuthorization(value: string): string | undefined {
  const v = value.trim();
  const sp = v.indexOf(" ");
  if (sp === -1) return undefined;
  const scheme = v.slice(0, sp).toLowerCase();
  const cred = v.slice(sp + 1).trim();
  if (scheme === "bearer" || scheme === "token") return cred.length > 0 ? cred : undefined;
  if (scheme === "basic") {
    const decoded = Buffer.from(cred, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    const pass = colon === -1 ? "" : decoded.slice(colon + 1);
    if (pass.startsWith("an_") && !user.startsWith("an_")) return pass;
    return user.length > 0 ? user : pass.length > 0 ? pass : undefined;
  }
  return undefined;
}

/** `rawHeaders` is node's flat [name, value, …] list. */
export function extractNonce(rawHeaders: readonly string[]): NonceCarrierResult {
  let found: string | undefined;
  let other: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // Cheap length filter before the case-insensitive compare: "authorization" is 13, "x-agent-nonce" is 13.
    if (name.length !== 13) continue;
    const lower = name.toLowerCase();
    let candidate: string | undefined;
    if (lower === "authorization") candidate = fromAuthorization(rawHeaders[i + 1] as string);
    else if (lower === "x-agent-nonce") candidate = (rawHeaders[i + 1] as string).trim();
    else continue;
    if (candidate === undefined || candidate.length === 0) continue;
    if (!candidate.startsWith("an_")) {
      other ??= candidate;
      continue;
    }
    if (found !== undefined && found !== candidate) return CONFLICT;
    found = candidate;
  }
  if (found !== undefined) return { token: found };
  // Something was presented but none of it looks like a nonce: the caller answers nonce_invalid.
  return other === undefined ? MISSING : { token: other };
}
