import type { Role } from "./types.js";

/**
 * What each role may see and do, mirroring the server's checks (docs/api.md, "Authentication and roles"). The
 * console does not offer what a role may not do; the server refuses it anyway.
 */

export interface ViewDef {
  slug: string;
  label: string;
  roles: readonly Role[];
}

export const VIEWS: readonly ViewDef[] = [
  { slug: "live", label: "Live", roles: ["admin", "auditor", "issuer"] },
  { slug: "tasks", label: "Tasks", roles: ["admin", "auditor", "issuer"] },
  { slug: "nonces", label: "Nonces", roles: ["admin", "auditor", "issuer"] },
  { slug: "approvals", label: "Approvals", roles: ["admin", "approver", "auditor", "issuer"] },
  { slug: "keys", label: "Keys", roles: ["admin"] },
  { slug: "integrity", label: "Integrity", roles: ["admin", "auditor"] },
];

export const viewsFor = (role: Role): ViewDef[] => VIEWS.filter((v) => v.roles.includes(role));

/** Revoking a nonce: admins any, issuers their own (the server filters the list to those). */
export const mayRevoke = (role: Role): boolean => role === "admin" || role === "issuer";

/** Deciding an approval: admins and approvers (never the requester: the server refuses that). */
export const mayDecide = (role: Role): boolean => role === "admin" || role === "approver";
