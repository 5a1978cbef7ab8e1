import { Agent, request } from "undici";
import type { Config } from "../../config.js";
import { guardedLookup } from "../forward.js";
import { CredentialUnavailable } from "./types.js";

/**
 * HTTP for credential issuers (GitHub's token endpoint, an OAuth token_url). Same rules as the gateway's
 * upstream traffic: no redirects (undici's request follows none), the resolve-time private-address guard unless
 * the service is marked insecure, bounded timeouts and a bounded response body. Failures become
 * `CredentialUnavailable` with a fixed reason: an error's own text can carry the URL.
 */

export interface IssuerResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface IssuerHttp {
  send(
    url: string,
    init: { method: "GET" | "POST" | "DELETE"; headers: Record<string, string>; body?: string },
    insecure: boolean,
  ): Promise<IssuerResponse>;
  close(): Promise<void>;
}

const MAX_BODY = 256 * 1024;

export function createIssuerHttp(cfg: Config["gateway"]): IssuerHttp {
  const common = { headersTimeout: cfg.headersTimeoutMs, bodyTimeout: cfg.bodyTimeoutMs, keepAliveTimeout: 4_000 };
  const strict = new Agent({ ...common, connect: { timeout: cfg.connectTimeoutMs, lookup: guardedLookup } });
  const insecureAgent = new Agent({ ...common, connect: { timeout: cfg.connectTimeoutMs } });
  return {
    async send(url, init, insecure) {
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(url, {
          method: init.method,
          headers: init.headers,
          body: init.body ?? null,
          dispatcher: insecure ? insecureAgent : strict,
        });
      } catch {
        throw new CredentialUnavailable("unreachable");
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const c of res.body) {
          size += (c as Buffer).length;
          if (size > MAX_BODY) {
            res.body.destroy();
            throw new CredentialUnavailable("oversized_response");
          }
          chunks.push(c as Buffer);
        }
      } catch (e) {
        if (e instanceof CredentialUnavailable) throw e;
        throw new CredentialUnavailable("unreachable");
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
    },
    async close() {
      await Promise.allSettled([strict.close(), insecureAgent.close()]);
    },
  };
}
