/**
 * SECURITY.md rules 4, 5, 6: which request headers reach the upstream.
 *
 * Allowlist, not blocklist: a header is forwarded only if it is named below. Everything else is dropped, which
 * covers hop-by-hop headers (Connection, Keep-Alive, TE, Trailer, Upgrade, Proxy-*), `Forwarded` and
 * `X-Forwarded-*` (the client must not choose what the upstream believes about the caller), method overrides
 * (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`: a scope is checked on the real method),
 * names containing `_` (proxies disagree whether `X_Foo` is `X-Foo`), `Host` (undici sets the upstream's host),
 * `Expect` (node answers 100-continue itself) and every client credential carrier (`Authorization`, `Cookie`,
 * `Proxy-Authorization`, `X-Agent-Nonce`). The explicit deny checks below repeat the most important of those so
 * that a future allowlist edit cannot re-admit them. The service's own key header is removed by the caller
 * (`dropHeader`), since it depends on the service.
 *
 * Framing: `Transfer-Encoding` together with `Content-Length` is rejected (request smuggling); a
 * `Transfer-Encoding` other than `chunked` is rejected; the header itself is never forwarded (undici frames the
 * streamed body itself). Values with CR, LF, NUL or other control characters are rejected, never re-serialised.
 *
 * Partial requests (rule 13): `Range` and `If-Range` are never forwarded. Every service has a credential, and a
 * partial body can start or end inside an echoed secret, where the scrubber cannot recognise it: two ranges
 * chosen by the agent would hand the secret back in pieces. The relay also blocks any 206 or `Content-Range`
 * response (respond.ts), so an upstream that sends a partial body unasked is not relayed either.
 */

/** Forwarded request headers, lower-case. Chosen for what official SDKs of common APIs send. */
export const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  // content negotiation and body description
  "accept",
  "accept-encoding", // filtered to codings the scrubber can decode (see filterAcceptEncoding)
  "accept-language",
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  // conditional requests (not `Range`/`If-Range`: see below)
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "cache-control",
  // identification, idempotency, tracing
  "user-agent",
  "idempotency-key",
  "x-request-id",
  "traceparent",
  "tracestate",
  "prefer",
  // API versioning / account selection used by common SDKs (not credentials)
  "stripe-version",
  "stripe-account",
  "stripe-context",
  "x-github-api-version",
  "openai-organization",
  "openai-project",
  "openai-beta",
  "anthropic-version",
  "anthropic-beta",
  "notion-version",
  // MCP Streamable HTTP (session, protocol version, SSE resumption): not credentials, the spec forbids using a
  // session id for authorisation
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
]);

const NEVER_FORWARDED: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "x-agent-nonce",
  "forwarded",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "expect",
  "range",
  "if-range",
]);

const ACCEPTED_CODINGS: ReadonlySet<string> = new Set(["gzip", "x-gzip", "deflate", "br", "identity"]);

// CR, LF, NUL and the other C0 controls except HTAB, plus DEL.
const BAD_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export interface FilteredRequestHeaders {
  headers: Record<string, string>;
  /** Declared Content-Length, or -1 when absent. */
  contentLength: number;
  /** True when the client sent `Transfer-Encoding: chunked` (body length unknown up front). */
  chunked: boolean;
}

export type FilterResult = FilteredRequestHeaders | { error: string };

export function filterAcceptEncoding(value: string): string | undefined {
  let out = "";
  for (const part of value.split(",")) {
    const semi = part.indexOf(";");
    const name = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    if (!ACCEPTED_CODINGS.has(name)) continue;
    out += out.length === 0 ? part.trim() : `, ${part.trim()}`;
  }
  return out.length === 0 ? undefined : out;
}

/** What the filter does with a header. */
const FORWARD = 1;
const CONTENT_LENGTH = 2;
const TRANSFER_ENCODING = 3;
const CONNECTION = 4;
const ACCEPT_ENCODING = 5;

interface Rule {
  /** The lower-case name, the key in the forwarded record. */
  name: string;
  action: number;
}

/** Dropped whatever the allowlist says (a future allowlist edit cannot re-admit these). */
function denied(name: string): boolean {
  return NEVER_FORWARDED.has(name) || name.includes("_") || name.startsWith("x-forwarded-");
}

/**
 * The allowlist and the framing headers as one table, built once, so a request costs one lookup per header. Keyed
 * by the lower-case name and by its usual Title-Case spelling (what most clients send), so that the common names
 * need no lower-casing; any other spelling is lower-cased and looked up again. Absent: dropped.
 */
const RULES: ReadonlyMap<string, Rule> = (() => {
  const m = new Map<string, Rule>();
  const add = (name: string, action: number) => {
    const rule = { name, action };
    m.set(name, rule);
    m.set(
      name.replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase()),
      rule,
    );
  };
  add("content-length", CONTENT_LENGTH);
  add("transfer-encoding", TRANSFER_ENCODING);
  add("connection", CONNECTION);
  for (const name of FORWARDED_REQUEST_HEADERS) {
    if (denied(name) || m.has(name)) continue;
    add(name, name === "accept-encoding" ? ACCEPT_ENCODING : FORWARD);
  }
  return m;
})();

/** `rawHeaders` is node's flat [name, value, …] list in received order. */
export function filterRequestHeaders(rawHeaders: readonly string[]): FilterResult {
  const headers: Record<string, string> = {};
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const value = rawHeaders[i + 1] as string;
    if (BAD_VALUE.test(value)) return { error: "control character in a header value" };
    const raw = rawHeaders[i] as string;
    const rule = RULES.get(raw) ?? RULES.get(raw.toLowerCase());
    if (rule === undefined) continue;
    const name = rule.name;
    switch (rule.action) {
      case CONTENT_LENGTH:
        if (contentLength !== -1) return { error: "duplicate Content-Length" };
        if (!/^\d{1,15}$/.test(value.trim())) return { error: "invalid Content-Length" };
        contentLength = Number(value.trim());
        headers[name] = String(contentLength);
        continue;
      case TRANSFER_ENCODING:
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        continue;
      case CONNECTION:
        connectionTokens ??= [];
        for (const t of value.split(",")) connectionTokens.push(t.trim().toLowerCase());
        continue;
      case ACCEPT_ENCODING: {
        const filtered = filterAcceptEncoding(value);
        if (filtered === undefined) continue;
        headers[name] = headers[name] === undefined ? filtered : `${headers[name]}, ${filtered}`;
        continue;
      }
      default: {
        const prev = headers[name];
        headers[name] = prev === undefined ? value : `${prev}, ${value}`;
      }
    }
  }
  if (transferEncoding !== undefined) {
    if (contentLength !== -1) return { error: "both Transfer-Encoding and Content-Length" };
    if (transferEncoding.trim().toLowerCase() !== "chunked") return { error: "unsupported Transfer-Encoding" };
  }
  if (connectionTokens) {
    // Headers the client declared hop-by-hop are never forwarded, even allowlisted ones.
    for (const t of connectionTokens) {
      if (t === "content-length") return { error: "Content-Length named in Connection" };
      delete headers[t];
    }
  }
  return { headers, contentLength, chunked: transferEncoding !== undefined };
}

/** Response headers that describe the gateway↔upstream connection, not the response: never copied back. */
export const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
