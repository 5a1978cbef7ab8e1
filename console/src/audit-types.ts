/** The audit event types the filters offer: the server's one list (src/core/audit-types.ts, pure data). */
export { AUDIT_TYPES } from "../../src/core/audit-types.js";
