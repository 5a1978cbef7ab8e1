import { randomBytes } from "node:crypto";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApiApp } from "../api/app.js";
import type { ApiEnv } from "../api/env.js";
import type { ConfigInput } from "../config.js";
import type { ManualClock } from "../core/clock.js";
import { newId } from "../core/ids.js";
import { generateToken, hashToken } from "../core/tokens.js";
import type { IssuerPolicy, Role } from "../core/types.js";
import { type TestContext, testContext } from "./context.js";

/**
 * In-process control-plane harness: a real SQLite-backed AppContext, the Hono app, an admin key inserted
 * directly into the store, and a `call()` that returns status, headers, raw text and parsed JSON.
 */
export interface ApiResult {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response JSON
  body: any;
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  /** Sent as is (for malformed JSON tests). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface ApiHarness {
  ctx: TestContext;
  clock: ManualClock;
  app: OpenAPIHono<ApiEnv>;
  adminKey: string;
  /** Every response text this harness has seen, for "never leaks" assertions. */
  transcript: string[];
  call(method: string, path: string, opts?: CallOptions): Promise<ApiResult>;
  createKey(role: Role, policy?: IssuerPolicy, name?: string): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

export async function apiHarness(config: Partial<ConfigInput> = {}): Promise<ApiHarness> {
  const ctx = await testContext({ config });
  const app = createApiApp(ctx);
  const insertKey = async (role: Role, policy: IssuerPolicy | null, name: string) => {
    const key = generateToken("ank");
    const id = newId("key", ctx.clock.now());
    await ctx.store.insertApiKey(
      { id, name, role, policy, keyHash: hashToken(key), createdBy: null, createdAt: ctx.clock.now(), revokedAt: null },
      null,
    );
    return { id, key };
  };
  const admin = await insertKey("admin", null, "root");
  const transcript: string[] = [];
  const call: ApiHarness["call"] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const key = opts.key === undefined ? admin.key : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/json";
    }
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    transcript.push(text, JSON.stringify([...res.headers]));
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
  return {
    ctx,
    clock: ctx.clock as ManualClock,
    app,
    adminKey: admin.key,
    transcript,
    call,
    createKey: (role, policy, name = `${role}-key`) => insertKey(role, policy ?? null, name),
    close: () => ctx.close(),
  };
}

/** A Stripe service with a fake credential, ready for issuance. Returns the secret so tests can hunt for it. */
export async function stripeService(h: ApiHarness, name = "stripe"): Promise<string> {
  const put = await h.call("PUT", `/v1/services/${name}`, { body: { template: "stripe" } });
  if (put.status !== 200) throw new Error(`service put failed: ${put.status} ${put.text}`);
  const secret = `sk_test_FAKE_${randomBytes(8).toString("hex")}`;
  const cred = await h.call("PUT", `/v1/services/${name}/credential`, { body: { secret } });
  if (cred.status !== 200) throw new Error(`credential put failed: ${cred.status} ${cred.text}`);
  return secret;
}
