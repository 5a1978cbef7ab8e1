import type { GatewayContext } from "../../app/context.js";
import { createAwsMinter } from "./minter.js";
import { AwsNonceLookup } from "./nonce-lookup.js";
import { NonceCredentialCache } from "./session-cache.js";
import { createStsClient, type StsClient } from "./sts.js";

/** The AWS part of the gateway: nonce lookup by access key id, the STS client and the per-nonce session cache. */
export interface AwsGateway {
  nonces: AwsNonceLookup;
  sessions: NonceCredentialCache;
  sts: StsClient;
  close(): Promise<void>;
}

export function createAwsGateway(ctx: GatewayContext): AwsGateway {
  const sts = createStsClient(ctx.config.gateway);
  const sessions = new NonceCredentialCache(ctx, createAwsMinter(sts));
  return {
    nonces: new AwsNonceLookup(ctx),
    sessions,
    sts,
    async close() {
      await sessions.close();
      await sts.close();
    },
  };
}
