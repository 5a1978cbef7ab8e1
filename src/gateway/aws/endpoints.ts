import { validateUpstream } from "../../app/upstream.js";
import type { ServiceRecord } from "../../core/types.js";

/**
 * Where a signed AWS request goes: the service's `endpoints` override for that signing name, else AWS's regional
 * endpoint. The origin comes from configuration only (rule 1), validated as any upstream (rule 9).
 */

const HOST_PREFIX: Record<string, string> = { bedrock: "bedrock-runtime" };

export type AwsEndpoint = { origin: string; insecure: boolean } | { error: string };

export function awsEndpoint(service: ServiceRecord, signingName: string, region: string): AwsEndpoint {
  const override = service.auth.endpoints?.[signingName];
  const insecure = service.insecureUpstream;
  const raw = override ?? `https://${HOST_PREFIX[signingName] ?? signingName}.${region}.amazonaws.com`;
  try {
    return { origin: validateUpstream(raw, insecure), insecure };
  } catch {
    return { error: "the AWS endpoint is not allowed" };
  }
}

/** Signing names the gateway maps to IAM actions; requests signed for anything else are refused. */
export const AWS_SERVICES: ReadonlySet<string> = new Set(["s3", "dynamodb", "sts", "sqs", "bedrock"]);
