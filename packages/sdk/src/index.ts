import "./polyfill.js";

export {
  describeRequestTool,
  fetchNonceView,
  formatToolResponse,
  type GatewayTarget,
  gatewayRequest,
  type NonceView,
  nonceViewJson,
  openToolNonce,
  TOOL_METHODS,
  TOOL_REQUEST_JSON_SCHEMA,
  type ToolQueryValue,
  type ToolRequest,
  type ToolResponse,
  toolName,
} from "./agent-tool.js";
export type { Approval, ApprovalStatus, WaitOptions } from "./approvals.js";
export { AgentNonce, type AgentNonceOptions } from "./client.js";
export { AgentNonceError, ERROR_CODES, type ErrorCode, isAgentNonceError, isErrorCode } from "./errors.js";
export type { FetchLike, QueryValue, RequestOptions } from "./http.js";
export { Nonce, Nonce as NonceHandle } from "./nonce.js";
export type { Approvals, Audit, Keys, Nonces, Services, Templates } from "./resources.js";
export type * from "./types.js";
