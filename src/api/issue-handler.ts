import type { ApiKeyCache } from "../app/api-key-cache.js";
import { authenticate } from "../app/auth.js";
import type { AppContext } from "../app/context.js";
import { type IssuanceStore, issueNonce } from "../app/issue-nonce.js";
import type { ServiceCache } from "../app/service-cache.js";
import { gatewayUrl } from "../config.js";
import { AppError, type ErrorCode, errorBody, httpStatus } from "../core/errors.js";
import type { ApiKeyStore, TrustStore } from "../store/store.js";
import { approvalView } from "./approval-schemas.js";
import { declaredTooLarge } from "./body.js";
import { validationError } from "./errors.js";
import { issuedView } from "./issued-view.js";
import { ISSUE_PATH } from "./middleware.js";
import { IssueNonceRequest } from "./routes/v1_nonces_create.js";

/**
 * `POST /v1/nonces`, once, for both entry points: the node:http listener (fast-issue.ts) and the Hono route
 * (routes/v1_nonces_create.ts, which only adapts the request and the answer). Auth, body limit, media type,
 * JSON, schema, use case and every answer — errors included — are made here, so the two cannot drift. The
 * steps run in the order Hono's middleware ran them for this route (auth before the body is read).
 */

/** What the handler needs from a request, whichever server took it. Header values as WHATWG Headers give them
 * (a repeated header's values joined with ", "), so both entry points see the same strings. */
export interface IssueRequest {
  requestId: string;
  authorization: string | undefined;
  contentType: string | undefined;
  contentLength: string | undefined;
  sourceIp: string | null;
  /** The whole body, or null once it is over the body limit. */
  readBody(): Promise<Buffer | null>;
}

export interface IssueAnswer {
  status: number;
  body: unknown;
  /** The body was not read to its end, so the connection cannot be reused. */
  close: boolean;
}

/** Never rejects: every failure is an answer. */
export type IssueHandler = (req: IssueRequest) => Promise<IssueAnswer>;

// The media types @hono/zod-openapi accepted for a JSON body (its `jsonRequestRegex`), kept so answers stay as
// they were when this route went through its validator.
const JSON_REQUEST = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

const unsupportedType = () => new AppError("invalid_request", "Content-Type must be application/json");

/** The body's value: JSON under a JSON media type; no media type and no body is an empty object (zod says what
 * is missing). A UTF-8 BOM is not JSON (the same on every entry point: bytes are decoded here, once). */
function bodyValue(contentType: string | undefined, body: Buffer): unknown {
  if (!contentType) {
    if (body.length > 0) throw unsupportedType();
    return {};
  }
  if (!JSON_REQUEST.test(contentType)) throw unsupportedType();
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new AppError("invalid_request", "request body is not valid JSON");
  }
}

export function createIssueHandler(
  ctx: AppContext<IssuanceStore & ApiKeyStore & TrustStore>,
  keys: ApiKeyCache,
  services: ServiceCache,
): IssueHandler {
  const gateway = gatewayUrl(ctx.config);
  const fail = (requestId: string, code: ErrorCode, message: string, details?: Record<string, unknown>) => ({
    status: httpStatus(code),
    body: errorBody(code, message, requestId, details),
    close: code === "payload_too_large",
  });

  const run = async (req: IssueRequest): Promise<IssueAnswer> => {
    const key = await authenticate(ctx, req.authorization, keys);
    const body = declaredTooLarge(req.contentLength) ? null : await req.readBody();
    if (body === null) return fail(req.requestId, "payload_too_large", "request body is larger than 64 KiB");
    const parsed = IssueNonceRequest.safeParse(bodyValue(req.contentType, body));
    if (!parsed.success) throw validationError(parsed.error);
    const out = await issueNonce(ctx, services, { key, sourceIp: req.sourceIp }, parsed.data);
    if (out.kind === "pending") return { status: 202, body: { approval: approvalView(out.approval) }, close: false };
    return { status: 201, body: issuedView(out.record, out.token, gateway, out.aws), close: false };
  };

  return async (req) => {
    try {
      return await run(req);
    } catch (e) {
      if (e instanceof AppError) return fail(req.requestId, e.code, e.message, e.details);
      const err = e instanceof Error ? e : new Error(String(e));
      ctx.log.error(
        {
          err: { message: err.message, stack: err.stack },
          request_id: req.requestId,
          method: "POST",
          route: ISSUE_PATH,
        },
        "control-plane request failed",
      );
      return fail(req.requestId, "internal", "internal error");
    }
  };
}
