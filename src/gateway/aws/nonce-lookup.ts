import type { GatewayContext } from "../../app/context.js";
import { type AwsGrant, grantOf, isAwsGrantList } from "../../core/aws/grants.js";
import type { NonceInfo } from "../caches.js";
import { Lru } from "../caches.js";

/**
 * The immutable part of an `aws_sigv4` nonce, found by its id (the agent's access key id) with an exact
 * primary-key lookup and cached like the gateway's token-keyed nonce cache. State (revoked, expired, uses) is
 * never cached: the consume re-checks it.
 */

export interface AwsNonceInfo extends NonceInfo {
  tokenKey: Buffer;
  routes: string[];
  grant: AwsGrant;
  /** The nonce's SigV4 key pair(s), derived on first use (one per loaded master-key version). */
  credentials?: Array<{ accessKeyId: string; secretAccessKey: string }>;
}

const NEVER = { size: 0, match: () => false };

export class AwsNonceLookup {
  private readonly lru = new Lru<string, AwsNonceInfo>(10_000);
  constructor(private readonly ctx: GatewayContext) {}

  get(id: string): AwsNonceInfo | Promise<AwsNonceInfo | undefined> {
    return this.lru.get(id) ?? this.load(id);
  }

  private async load(id: string): Promise<AwsNonceInfo | undefined> {
    const rec = await this.ctx.store.getNonce(id);
    if (!rec || !isAwsGrantList(rec.routes)) return undefined;
    const info: AwsNonceInfo = {
      id: rec.id,
      service: rec.service,
      scopes: rec.scopes,
      agent: rec.agent,
      task: rec.task,
      expiresAt: rec.expiresAt,
      matcher: NEVER,
      constraints: null,
      tokenKey: rec.tokenKey,
      routes: rec.routes,
      params: rec.credentialParams ?? null,
      grant: grantOf(rec.routes),
      canary: rec.canary === true,
    };
    this.lru.set(id, info);
    return info;
  }
}
