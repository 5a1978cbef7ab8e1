import { type AppliedConstraints, type ConstraintFailure, checkSource } from "./constraint-check.js";
import { isMethodOverrideKey } from "./field-names.js";
import { hasDuplicateKey, parseJsonTree } from "./json-tree.js";
import { multipartBoundary, parseMultipart } from "./multipart.js";
import { type FieldSource, jsonSource, queryPairs, textSource } from "./request-fields.js";

/**
 * What the gateway decides about a request's fields before anything goes upstream (SECURITY.md rule 11), as a
 * pure function of the query, the body headers and (when read) the body: constraints in every place an upstream
 * may read their field, and method overrides.
 *
 * Method override: Rails (Rack::MethodOverride), Laravel and Symfony turn a POST carrying `_method=DELETE` into a
 * DELETE, after the gateway authorised a POST. `_method` in the query is always refused (400). In a POST body
 * (urlencoded — also without a Content-Type, as Rack reads it —, multipart, or a top-level JSON key as Laravel
 * reads it) it is refused when the override could change the decision: the nonce does not allow every method on
 * that path, or its constraints depend on the route. A body that must be inspected and cannot be is refused.
 */

export interface BodyHeaders {
  "content-type"?: string;
  "content-encoding"?: string;
}

export interface RequestView {
  method: string;
  /** Canonical query string, without `?`. */
  query: string;
  headers: Readonly<BodyHeaders>;
  /** The whole body when it was read (see needsBody), else null. */
  body: Buffer | null;
  /** A `_method` in the body could change which routes or constraints apply (see the gateway). */
  overrideMatters: boolean;
}

/** null: the request may go; `field`: 403 constraint_failed; `refused`: 400 bad_request with that message. */
export type Verdict = null | ConstraintFailure | { refused: string };

interface Media {
  type: string;
  params: Map<string, string>;
}

function mediaType(value: string | undefined): Media | null {
  if (value === undefined) return null;
  const [type, ...rest] = value.split(";");
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq === -1) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const v = p.slice(eq + 1).trim();
    params.set(name, v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
  }
  return { type: (type ?? "").trim().toLowerCase(), params };
}

/** Laravel's isJson(): any type containing `/json` or `+json`. */
function isJson(type: string): boolean {
  return type.includes("/json") || type.includes("+json");
}

const FORM = "application/x-www-form-urlencoded";
const MULTIPART = "multipart/form-data";

/** A body type some framework parses into named parameters (no Content-Type counts: Rack reads it as a form). */
export function isParameterBody(contentType: string | undefined): boolean {
  const m = mediaType(contentType);
  return m === null || isJson(m.type) || m.type === FORM || m.type === MULTIPART;
}

type BodyView =
  /** A declared JSON, form or multipart body, parsed. */
  | { kind: "declared"; source: FieldSource }
  /** No Content-Type: Rack parses it as a form, other frameworks ignore it. */
  | { kind: "untyped"; source: FieldSource }
  /** Another type whose text is a JSON object: Go's json.Decoder reads it whatever the Content-Type. */
  | { kind: "sniffed"; source: FieldSource }
  /** A type nobody reads fields from. */
  | { kind: "opaque" }
  /** A parameter body that cannot be read (encoding, charset, invalid syntax, duplicate JSON key). */
  | { kind: "unreadable" };

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function utf8(body: Buffer, media: Media): string | null {
  const charset = media.params.get("charset");
  if (charset !== undefined && charset.toLowerCase() !== "utf-8") return null;
  try {
    return UTF8.decode(body);
  } catch {
    return null;
  }
}

function json(text: string): FieldSource | null {
  const tree = parseJsonTree(text);
  return tree === null || hasDuplicateKey(tree) ? null : jsonSource(tree);
}

function bodyView(headers: Readonly<BodyHeaders>, body: Buffer): BodyView {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") return { kind: "unreadable" };
  const media = mediaType(headers["content-type"]);
  if (media === null) {
    const pairs = queryPairs(body.toString("latin1"));
    return pairs ? { kind: "untyped", source: textSource(pairs) } : { kind: "unreadable" };
  }
  if (isJson(media.type)) {
    const text = utf8(body, media);
    const source = text === null ? null : json(text);
    return source ? { kind: "declared", source } : { kind: "unreadable" };
  }
  if (media.type === FORM) {
    const text = utf8(body, media);
    const pairs = text === null ? null : queryPairs(text);
    return pairs ? { kind: "declared", source: textSource(pairs) } : { kind: "unreadable" };
  }
  if (media.type === MULTIPART) {
    const boundary = multipartBoundary(media.params);
    const fields = boundary === null ? null : parseMultipart(body, boundary);
    if (!fields) return { kind: "unreadable" };
    return { kind: "declared", source: textSource(fields.map((f) => [f.name, f.value] as const)) };
  }
  const first = body.findIndex((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
  if (first !== -1 && body[first] === 0x7b /* { */) {
    const text = utf8(body, media);
    const source = text === null ? null : json(text);
    if (source) return { kind: "sniffed", source };
  }
  return { kind: "opaque" };
}

/** Whether the body must be read before deciding (it is then read whole, bounded by the gateway's cap). */
export function needsBody(
  applied: AppliedConstraints | null,
  method: string,
  hasBody: boolean,
  contentType: string | undefined,
  overrideMatters: () => boolean,
): boolean {
  if (applied && applied.body.length > 0) return true;
  if (!hasBody) return false;
  if (applied && applied.query.length > 0) return true;
  return method === "POST" && isParameterBody(contentType) && overrideMatters();
}

const QUERY_OVERRIDE = "the query carries a method override (_method), which the gateway refuses";
const BODY_OVERRIDE = "the body carries a method override (_method), which this nonce cannot allow";
const BODY_UNINSPECTABLE = "the request body cannot be inspected for a method override (_method)";

/** The query's `_method`, in any spelling: `;` counts as a separator here, as it does to some parsers. */
function queryOverride(query: string): boolean {
  if (query === "" || !/method|%|\+/i.test(query)) return false;
  for (const [key] of new URLSearchParams(query.replaceAll(";", "&"))) if (isMethodOverrideKey(key)) return true;
  return false;
}

export function inspectRequest(applied: AppliedConstraints | null, r: RequestView): Verdict {
  if (queryOverride(r.query)) return { refused: QUERY_OVERRIDE };
  if (applied) {
    const pairs = r.query === "" ? [] : queryPairs(r.query);
    if (!pairs) return { field: (applied.query[0] ?? applied.body[0])?.key ?? "query" };
    const failure = checkSource(textSource(pairs), applied.query, applied.body);
    if (failure) return failure;
  }
  if (r.body === null) return null;
  const view = bodyView(r.headers, r.body);
  if (applied) {
    const declared = view.kind === "declared" ? view.source : null;
    const first = applied.body[0];
    if (first && !declared) return { field: first.key };
    const readable = "source" in view ? view.source : null;
    if (view.kind === "unreadable" && applied.query[0]) return { field: applied.query[0].key };
    const failure = checkSource(readable, applied.body, applied.query);
    if (failure) return failure;
  }
  if (r.method === "POST" && r.overrideMatters) {
    if (view.kind === "unreadable") return { refused: BODY_UNINSPECTABLE };
    if ((view.kind === "declared" || view.kind === "untyped") && view.source.hasMethodOverride()) {
      return { refused: BODY_OVERRIDE };
    }
  }
  return null;
}
