import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import type { AppContext } from "../app/context.js";
import { AppError, type ErrorCode, errorBody, httpStatus } from "../core/errors.js";
import type { ApiEnv } from "./env.js";

/**
 * The one mapper from failures to HTTP. AppErrors carry their code; Hono's own HTTPExceptions (malformed JSON,
 * unsupported media type) become invalid_request; anything else is a bug: logged (message and stack only,
 * never the request body) and answered with a bare 500.
 */

export function errorResponse(c: Context<ApiEnv>, code: ErrorCode, message: string, details?: Record<string, unknown>) {
  const status = httpStatus(code);
  const requestId = c.get("requestId") ?? "";
  return c.json(errorBody(code, message, requestId, details), status as 400);
}

/** A field path and zod's message; zod's messages describe the expectation, never the received value. */
export function describeZodError(error: ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "body";
  return `${field}: ${issue.message}`;
}

/**
 * The AppError for a failed validation: `invalid_request`, unless a refinement carried a more precise code in its
 * issue's params (a constraint pattern RE2 cannot run is 422 `pattern_unsupported`, not malformed input).
 */
export function validationError(error: ZodError): AppError {
  const issue = error.issues[0];
  const carried = issue?.code === "custom" ? (issue.params as { code?: unknown } | undefined)?.code : undefined;
  const code: ErrorCode = carried === "pattern_unsupported" ? carried : "invalid_request";
  return new AppError(code, describeZodError(error));
}

export function validationHook(result: { success: true } | { success: false; error: ZodError }): void {
  if (!result.success) throw validationError(result.error);
}

export function onApiError(ctx: AppContext<unknown>) {
  return (err: Error, c: Context<ApiEnv>) => {
    if (err instanceof AppError) return errorResponse(c, err.code, err.message, err.details);
    if (err instanceof HTTPException) {
      if (err.status === 413) return errorResponse(c, "payload_too_large", "request body is larger than 64 KiB");
      if (err.status === 415) return errorResponse(c, "invalid_request", "Content-Type must be application/json");
      if (err.status === 400) {
        const malformed = /malformed json/i.test(err.message);
        return errorResponse(c, "invalid_request", malformed ? "request body is not valid JSON" : "bad request");
      }
      if (err.status === 404) return errorResponse(c, "not_found", "not found");
    }
    ctx.log.error(
      {
        err: { message: err.message, stack: err.stack },
        request_id: c.get("requestId"),
        method: c.req.method,
        route: c.req.routePath,
      },
      "control-plane request failed",
    );
    return errorResponse(c, "internal", "internal error");
  };
}
