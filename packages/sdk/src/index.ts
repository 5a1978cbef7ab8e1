import "./polyfill.js";

export { AgentNonce, type AgentNonceOptions } from "./client.js";
export { AgentNonceError, ERROR_CODES, type ErrorCode, isAgentNonceError, isErrorCode } from "./errors.js";
export type { FetchLike, QueryValue, RequestOptions } from "./http.js";
export { Nonce, Nonce as NonceHandle } from "./nonce.js";
export type { Audit, Keys, Nonces, Services, Templates } from "./resources.js";
export type * from "./types.js";
