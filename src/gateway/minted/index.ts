import type { GatewayContext } from "../../app/context.js";
import { MintedCredentials, type MintedOptions } from "./cache.js";
import { createGithubAppMinter } from "./github-app.js";
import { createIssuerHttp, type IssuerHttp } from "./http.js";
import { createOauth2Minter } from "./oauth2.js";
import type { CredentialMinter } from "./types.js";

/** The gateway's dynamic-credential kinds, one minter per `auth.type`. A new kind registers here. */
export function createMinted(
  ctx: GatewayContext,
  opts: MintedOptions = {},
): { minted: MintedCredentials; http: IssuerHttp } {
  const http = createIssuerHttp(ctx.config.gateway);
  const minters: CredentialMinter[] = [createGithubAppMinter(http), createOauth2Minter(ctx, http)];
  const minted = new MintedCredentials(ctx, new Map(minters.map((m) => [m.type, m])), opts);
  return { minted, http };
}
