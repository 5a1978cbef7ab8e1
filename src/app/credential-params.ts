import { AppError } from "../core/errors.js";
import type { ServiceRecord } from "../core/types.js";

/**
 * The per-nonce parameters of a minted credential, checked at issuance against the service's auth kind
 * (src/gateway/minted/types.ts CredentialParams). A `github_app` nonce must name its repositories: the
 * installation token is narrowed to exactly those, and the gateway refuses a request for any other.
 */

export interface CredentialParamsInput {
  github?: { repositories: string[] } | undefined;
}

// GitHub: owner 1-39 alphanumerics or single hyphens; repository 1-100 of [A-Za-z0-9._-], not "." or "..".
export const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;

export function resolveCredentialParams(
  service: ServiceRecord,
  input: CredentialParamsInput,
): Record<string, unknown> | null {
  const type = service.auth.type;
  if (input.github !== undefined && type !== "github_app") {
    throw new AppError("invalid_request", `github is only used with github_app services (${service.name} is ${type})`);
  }
  if (type !== "github_app") return null;
  const repos = input.github?.repositories;
  if (!repos || repos.length === 0) {
    throw new AppError(
      "invalid_request",
      'a github_app nonce must name its repositories: github: {repositories: ["owner/repo"]}',
    );
  }
  const seen = new Map<string, string>();
  let owner: string | null = null;
  for (const r of repos) {
    if (!REPOSITORY.test(r))
      throw new AppError("invalid_request", `github.repositories: ${JSON.stringify(r)} is not owner/repo`);
    const [o] = r.split("/") as [string];
    // One installation belongs to one account: a token can only cover that account's repositories.
    if (owner !== null && o.toLowerCase() !== owner) {
      throw new AppError("invalid_request", "github.repositories must all belong to one owner (the installation's)");
    }
    owner = o.toLowerCase();
    seen.set(r.toLowerCase(), r);
  }
  return { github: { repositories: [...seen.values()] } };
}
