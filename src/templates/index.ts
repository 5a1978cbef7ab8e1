import type { ScopeCatalog, ServiceAuth } from "../core/types.js";
import aws from "./aws.json" with { type: "json" };
import github from "./github.json" with { type: "json" };
import mcp from "./mcp.json" with { type: "json" };
import openai from "./openai.json" with { type: "json" };
import slack from "./slack.json" with { type: "json" };
import stripe from "./stripe.json" with { type: "json" };

/**
 * Built-in service templates: data files (each names its `source`) that fill a service's upstream, auth and scope
 * catalog. A service without a template is generic: the admin supplies those fields.
 */
export interface ServiceTemplate {
  name: string;
  description: string;
  source: string;
  /** Absent when the template names no fixed host (mcp): the service then must give its upstream. */
  upstream?: string;
  auth: ServiceAuth;
  /** Other auth kinds the template supports besides its default `auth` (e.g. github's `github_app`): the auth
   * fields to give, the credential fields to set and any per-nonce fields. */
  auth_forms?: AuthForm[];
  scopes: ScopeCatalog;
}

export interface AuthForm {
  type: ServiceAuth["type"];
  description: string;
  fields: string[];
  credential: string[];
  nonce?: string[];
}

const ALL: readonly ServiceTemplate[] = [stripe, github, slack, openai, mcp, aws].map((t) =>
  Object.freeze({ ...t, auth: t.auth as ServiceAuth } as ServiceTemplate),
);

const BY_NAME: ReadonlyMap<string, ServiceTemplate> = new Map(ALL.map((t) => [t.name, t]));

export function listTemplates(): readonly ServiceTemplate[] {
  return ALL;
}

export function getTemplate(name: string): ServiceTemplate | undefined {
  return BY_NAME.get(name);
}
