import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { ApiDeps, ApiEnv } from "../env.js";
import * as healthz from "./healthz.js";
import * as metrics from "./metrics.js";
import * as openapiJson from "./openapi_json.js";
import * as readyz from "./readyz.js";
import * as approvalsApprove from "./v1_approvals_approve.js";
import * as approvalsDeny from "./v1_approvals_deny.js";
import * as approvalsGet from "./v1_approvals_get.js";
import * as approvalsList from "./v1_approvals_list.js";
import * as auditCheckpoints from "./v1_audit_checkpoints.js";
import * as auditExport from "./v1_audit_export.js";
import * as auditList from "./v1_audit_list.js";
import * as auditStream from "./v1_audit_stream.js";
import * as auditVerify from "./v1_audit_verify.js";
import * as keysCreate from "./v1_keys_create.js";
import * as keysDelete from "./v1_keys_delete.js";
import * as keysList from "./v1_keys_list.js";
import * as noncesCreate from "./v1_nonces_create.js";
import * as noncesDelegate from "./v1_nonces_delegate.js";
import * as noncesDelete from "./v1_nonces_delete.js";
import * as noncesGet from "./v1_nonces_get.js";
import * as noncesList from "./v1_nonces_list.js";
import * as noncesRevoke from "./v1_nonces_revoke.js";
import * as credentialPut from "./v1_services_credential_put.js";
import * as servicesDelete from "./v1_services_delete.js";
import * as servicesGet from "./v1_services_get.js";
import * as servicesList from "./v1_services_list.js";
import * as servicesPut from "./v1_services_put.js";
import * as tasksGet from "./v1_tasks_get.js";
import * as templatesList from "./v1_templates_list.js";
import * as trustDelete from "./v1_trust_delete.js";
import * as trustGet from "./v1_trust_get.js";
import * as trustList from "./v1_trust_list.js";
import * as trustPut from "./v1_trust_put.js";
import * as whoami from "./v1_whoami.js";

export interface RouteModule {
  route: RouteConfig;
  register(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void;
}

/** Every endpoint, one module each. Order is the order of the OpenAPI document. */
export const ROUTES: readonly RouteModule[] = [
  noncesCreate,
  noncesDelegate,
  noncesList,
  noncesRevoke,
  noncesGet,
  noncesDelete,
  servicesList,
  servicesPut,
  servicesGet,
  servicesDelete,
  credentialPut,
  templatesList,
  keysCreate,
  keysList,
  keysDelete,
  whoami,
  trustList,
  trustPut,
  trustGet,
  trustDelete,
  auditList,
  auditVerify,
  auditCheckpoints,
  auditExport,
  auditStream,
  tasksGet,
  approvalsList,
  approvalsGet,
  approvalsApprove,
  approvalsDeny,
  healthz,
  readyz,
  metrics,
  openapiJson,
];
