import type { IncomingMessage, ServerResponse } from "node:http";
import type { AppContext } from "../app/context.js";
import { newId } from "../core/ids.js";
import { readIncoming } from "./body.js";
import type { IssueHandler } from "./issue-handler.js";
import { ISSUE_PATH } from "./middleware.js";

/**
 * The node:http entry point for `POST /v1/nonces` (any query string): it hands the request to the one issuance
 * handler (issue-handler.ts) that the Hono route also delegates to, and writes its answer. What it skips is the
 * WHATWG Request/Headers/Response conversion and the middleware chain, measured at about a quarter of issuance
 * over HTTP. Anything else returns false and goes to Hono.
 */
export type FastPath = (incoming: IncomingMessage, outgoing: ServerResponse) => boolean;

/** A header as WHATWG Headers (and so Hono) reads it: repeated values joined with ", ". */
function header(incoming: IncomingMessage, name: string): string | undefined {
  return incoming.headersDistinct[name]?.join(", ");
}

export function createFastIssue(ctx: AppContext<unknown>, issue: IssueHandler): FastPath {
  return (incoming, res) => {
    const url = incoming.url;
    if (incoming.method !== "POST" || url === undefined || !url.startsWith(ISSUE_PATH)) return false;
    if (url.length !== ISSUE_PATH.length && url.charCodeAt(ISSUE_PATH.length) !== 63 /* ? */) return false;
    const requestId = newId("req", ctx.clock.now());
    void issue({
      requestId,
      authorization: header(incoming, "authorization"),
      contentType: header(incoming, "content-type"),
      contentLength: header(incoming, "content-length"),
      sourceIp: incoming.socket?.remoteAddress ?? null,
      readBody: () => readIncoming(incoming),
    })
      .then((answer) => {
        const headers: Record<string, string> = { "content-type": "application/json", "x-request-id": requestId };
        if (answer.close) headers.connection = "close";
        res.writeHead(answer.status, headers);
        res.end(JSON.stringify(answer.body));
        ctx.metrics.apiRequests.inc({ method: "POST", route: ISSUE_PATH, status: String(answer.status) });
        // Tells this entry point's answers from Hono's (same body, headers and request counter otherwise).
        ctx.metrics.apiFastPath.inc({ status: String(answer.status) });
      })
      // The handler never rejects; this is for a write that throws, which must not become an unhandled rejection.
      .catch((e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        ctx.log.error(
          { err: { message: err.message, stack: err.stack }, request_id: requestId },
          "response write failed",
        );
        res.destroy();
      });
    return true;
  };
}
