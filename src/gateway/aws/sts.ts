import { Agent, type Dispatcher } from "undici";
import type { Config } from "../../config.js";
import { guardedLookup } from "../forward.js";
import { resign, type SessionCredentials } from "./sigv4.js";

/**
 * STS AssumeRole as a plain, SigV4-signed form POST (the query protocol the STS API speaks), so the endpoint is
 * exactly the service's `endpoints.sts` or the regional default and nothing else is read from the environment.
 * Redirects are never followed; non-public addresses only with `insecure_upstream` (rules 3 and 9).
 */

export interface AssumeRoleInput {
  origin: string;
  insecure: boolean;
  region: string;
  base: { accessKeyId: string; secretAccessKey: string };
  roleArn: string;
  roleSessionName: string;
  policy: string;
  durationSeconds: number;
  externalId?: string | undefined;
  now: number;
}

export interface AssumedRole extends SessionCredentials {
  expiresAt: number;
}

/** STS answered with an error or something unreadable: `reason` is a fixed word or AWS's error code. */
export class StsFailure extends Error {
  override readonly name = "StsFailure";
  constructor(readonly reason: string) {
    super(`STS AssumeRole failed (${reason})`);
  }
}

export interface StsClient {
  assumeRole(input: AssumeRoleInput): Promise<AssumedRole>;
  close(): Promise<void>;
}

const MAX_ANSWER = 64 * 1024;

export function createStsClient(cfg: Config["gateway"]): StsClient {
  const common = { headersTimeout: cfg.headersTimeoutMs, bodyTimeout: cfg.bodyTimeoutMs, connections: 16 };
  const strict = new Agent({ ...common, connect: { timeout: cfg.connectTimeoutMs, lookup: guardedLookup } });
  const insecure = new Agent({ ...common, connect: { timeout: cfg.connectTimeoutMs } });

  async function assumeRole(i: AssumeRoleInput): Promise<AssumedRole> {
    const form = new URLSearchParams({
      Action: "AssumeRole",
      Version: "2011-06-15",
      RoleArn: i.roleArn,
      RoleSessionName: i.roleSessionName,
      Policy: i.policy,
      DurationSeconds: String(i.durationSeconds),
      ...(i.externalId === undefined ? {} : { ExternalId: i.externalId }),
    });
    const body = Buffer.from(form.toString(), "utf8");
    const url = new URL(i.origin);
    const headers: Record<string, string> = {
      host: url.host,
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      "content-length": String(body.length),
    };
    const signed = await resign(
      { method: "POST", hostname: url.hostname, path: "/", query: {}, headers, body },
      { ...i.base, sessionToken: "" },
      i.region,
      "sts",
      new Date(i.now),
    );
    const dispatcher: Dispatcher = i.insecure ? insecure : strict;
    let status: number;
    let text: string;
    try {
      const res = await dispatcher.request({ origin: url.origin, path: "/", method: "POST", headers: signed, body });
      status = res.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res.body as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > MAX_ANSWER) throw new StsFailure("answer_too_large");
        chunks.push(c);
      }
      text = Buffer.concat(chunks).toString("utf8");
    } catch (e) {
      if (e instanceof StsFailure) throw e;
      throw new StsFailure("unreachable");
    }
    if (status !== 200)
      throw new StsFailure(
        xmlTag(text, "Code")
          ?.replace(/[^A-Za-z0-9.]/g, "")
          .slice(0, 64) ?? `http_${status}`,
      );
    const accessKeyId = xmlTag(text, "AccessKeyId");
    const secretAccessKey = xmlTag(text, "SecretAccessKey");
    const sessionToken = xmlTag(text, "SessionToken");
    const expiration = Date.parse(xmlTag(text, "Expiration") ?? "");
    if (!accessKeyId || !secretAccessKey || !sessionToken || !Number.isFinite(expiration)) {
      throw new StsFailure("unreadable_answer");
    }
    return { accessKeyId, secretAccessKey, sessionToken, expiresAt: expiration };
  }

  return {
    assumeRole,
    async close() {
      await Promise.allSettled([strict.close(), insecure.close()]);
    },
  };
}

/** The text of the first `<name>…</name>` (STS answers are small, flat XML from a configured endpoint). */
function xmlTag(xml: string, name: string): string | null {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  if (!m) return null;
  return (m[1] as string)
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&")
    .trim();
}
