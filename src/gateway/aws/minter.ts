import { grantOf, roleSessionName, sessionDurationSeconds, sessionPolicy } from "../../core/aws/grants.js";
import { fingerprint } from "../../core/crypto.js";
import {
  type CredentialMinter,
  CredentialUnavailable,
  type MintedCredential,
  type MintInput,
} from "../minted/types.js";
import { awsEndpoint } from "./endpoints.js";
import type { SessionCredentials } from "./sigv4.js";
import { type StsClient, StsFailure } from "./sts.js";

/**
 * The `aws_sigv4` kind as a CredentialMinter of the dynamic-credential framework (src/gateway/minted/types.ts):
 * one STS session per nonce, whose session policy is exactly the nonce's grant. Re-signing happens in the AWS
 * flow (handle-aws.ts), which needs the signing service and region the agent used, so `sign` is not used here.
 * STS sessions cannot be revoked one by one: `destroy` only drops the cached keys (the cache zeroes them); the
 * session's own lifetime is DurationSeconds = max(900, remaining TTL), AWS's minimum.
 */

export type AwsSessionState = SessionCredentials;

export function createAwsMinter(sts: StsClient): CredentialMinter {
  return {
    type: "aws_sigv4",
    sharing: "nonce",
    retryOn401: false,
    async mint({ nonce, service, rootSecret, now }: MintInput): Promise<MintedCredential> {
      const cfg = service.auth.aws;
      if (!cfg) throw new CredentialUnavailable("not_configured");
      const root = parseRoot(rootSecret);
      const endpoint = awsEndpoint(service, "sts", cfg.region);
      if ("error" in endpoint) throw new CredentialUnavailable("sts_endpoint_refused");
      let s: Awaited<ReturnType<StsClient["assumeRole"]>>;
      try {
        s = await sts.assumeRole({
          origin: endpoint.origin,
          insecure: endpoint.insecure,
          region: cfg.region,
          base: root,
          roleArn: cfg.role_arn,
          roleSessionName: roleSessionName(nonce.agent, nonce.task),
          policy: sessionPolicy(grantOf(nonce.routes)),
          durationSeconds: sessionDurationSeconds(nonce.expiresAt, now),
          externalId: cfg.external_id,
          now,
        });
      } catch (e) {
        if (e instanceof StsFailure) throw new CredentialUnavailable(e.reason);
        throw e;
      }
      const state: AwsSessionState = {
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        sessionToken: s.sessionToken,
      };
      return {
        headers: {},
        secrets: [s.accessKeyId, s.secretAccessKey, s.sessionToken].map((v) => Buffer.from(v, "utf8")),
        expiresAt: s.expiresAt,
        fingerprint: fingerprint(service.name, Buffer.from(s.secretAccessKey, "utf8")),
        state,
      };
    },
  };
}

/** The root credential as set through the API: `{access_key_id, secret_access_key}` (sealed JSON). */
function parseRoot(rootSecret: Buffer): { accessKeyId: string; secretAccessKey: string } {
  let root: { access_key_id?: unknown; secret_access_key?: unknown };
  try {
    root = JSON.parse(rootSecret.toString("utf8"));
  } catch {
    throw new CredentialUnavailable("root_unreadable");
  }
  if (typeof root.access_key_id !== "string" || typeof root.secret_access_key !== "string") {
    throw new CredentialUnavailable("root_unreadable");
  }
  return { accessKeyId: root.access_key_id, secretAccessKey: root.secret_access_key };
}
