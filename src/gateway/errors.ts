import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type ErrorCode, errorBody, httpStatus } from "../core/errors.js";

/**
 * Every gateway rejection has the same shape as the control plane's errors plus `X-Agent-Nonce-Error`, so SDK
 * users see why without parsing the body. Messages are fixed strings chosen by the gateway: never a token, a
 * secret, an upstream URL or an exception text.
 */

/** An expected rejection inside the gateway's flow: a value-like exception carrying a code and a safe message. */
export class GatewayReject extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** `retryAfterS` (whole seconds) adds `Retry-After`, for 429s. */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  requestId: string,
  retryAfterS?: number,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(code, message, requestId));
  res.writeHead(httpStatus(code), {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-agent-nonce-error": code,
    "x-agent-nonce-request-id": requestId,
    ...(retryAfterS === undefined ? {} : { "retry-after": String(retryAfterS) }),
  });
  res.end(body);
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/**
 * For parser-level failures (node's 'clientError'): there is no ServerResponse, so the response is written raw
 * on the socket and the connection closed. `status` may differ from the code's usual status only for 408.
 */
export function writeRawError(
  socket: Socket,
  code: ErrorCode,
  message: string,
  requestId: string,
  status?: number,
): void {
  const s = status ?? httpStatus(code);
  const body = JSON.stringify(errorBody(code, message, requestId));
  const head =
    `HTTP/1.1 ${s} ${REASONS[s] ?? "Error"}\r\n` +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Agent-Nonce-Error: ${code}\r\n` +
    "Connection: close\r\n\r\n";
  socket.end(head + body);
}
