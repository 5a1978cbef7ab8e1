import type { ScopeCatalog, ServiceAuth } from "../core/types.js";
import aws from "./aws.json" with { type: "json" };
import github from "./github.json" with { type: "json" };
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
  upstream: string;
  auth: ServiceAuth;
  scopes: ScopeCatalog;
}

const ALL: readonly ServiceTemplate[] = [stripe, github, slack, openai, aws].map((t) =>
  Object.freeze({ ...t, auth: t.auth as ServiceAuth }),
);

const BY_NAME: ReadonlyMap<string, ServiceTemplate> = new Map(ALL.map((t) => [t.name, t]));

export function listTemplates(): readonly ServiceTemplate[] {
  return ALL;
}

export function getTemplate(name: string): ServiceTemplate | undefined {
  return BY_NAME.get(name);
}
