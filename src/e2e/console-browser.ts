import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type FakeUpstream, startFakeUpstream } from "../test/fake-upstream.js";
import { startTcpProxy, type TcpProxy } from "../test/tcp-proxy.js";
import { type E2eServer, fakeSecret, startE2e } from "./harness.js";
import { REPO_ROOT } from "./process.js";

/**
 * The console in a real browser: Debian's chromium driven by playwright-core, against a real server (SQLite, both
 * listeners) with a fake upstream behind the gateway, reached through a TCP proxy of the test's own so a test can
 * cut the browser's connections (the live stream must reconnect). Without chromium the browser tests fail under
 * CI and are skipped, loudly, elsewhere (the PostgreSQL policy).
 */

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI) throw new Error(`chromium is required in CI for the console tests but ${CHROMIUM} is missing`);
  console.warn(`\n*** ${CHROMIUM} not found: SKIPPING the console browser tests (apt-get install chromium) ***\n`);
}

/** Chromium's own background connections are refused on this closed network: turn them off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const SCREENSHOT_DIR = path.join(REPO_ROOT, "docs/console");

/** With UPDATE_SCREENSHOTS=1 the run writes docs/console/<name>.png (checked in; docs/console.md shows them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== "1") return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
}

export interface ConsoleEnv {
  server: E2eServer;
  upstream: FakeUpstream;
  proxy: TcpProxy;
  browser: Browser;
  /** The console's origin as the browser sees it (through the proxy). */
  origin: string;
  keys: { admin: string; issuer: string; auditor: string; approver: string };
  /** Every URL any page requested, for "the key never reaches a URL". */
  urls: string[];
  api<T = unknown>(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: T }>;
  /** A request through the gateway with a nonce; the status. */
  use(nonce: string, method: string, path: string): Promise<number>;
  issue(agent: string, task: string, scope?: string): Promise<{ id: string; nonce: string }>;
  /** A fresh browser context (own sessionStorage) at 1280×800 unless told otherwise. */
  page(viewport?: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }>;
  signIn(page: Page, key: string): Promise<void>;
  close(): Promise<void>;
}

export async function startConsoleEnv(): Promise<ConsoleEnv> {
  const upstream = await startFakeUpstream();
  const server = await startE2e("sqlite", {
    config: { audit: { heartbeatMs: 200, pollMs: 50, checkpointEvery: 5 } },
  });
  const apiPort = Number(new URL(server.apiUrl as string).port);
  const proxy = await startTcpProxy(apiPort);
  const origin = `http://127.0.0.1:${proxy.port}`;
  const browser = await launchChromium();
  const urls: string[] = [];

  const api: ConsoleEnv["api"] = async (method, p, body, key = server.adminApiKey) => {
    const res = await fetch(`${server.apiUrl}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as never };
  };
  const mustApi = async <T>(method: string, p: string, body?: unknown, key?: string): Promise<T> => {
    const r = await api<T>(method, p, body, key);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  await mustApi("PUT", "/v1/services/stripe", {
    upstream: upstream.url,
    insecure_upstream: true,
    auth: { type: "bearer" },
    scopes: {
      "read:customers": ["GET /v1/customers", "GET /v1/customers/{id}"],
      "write:refunds": ["POST /v1/refunds"],
    },
  });
  await mustApi("PUT", "/v1/services/stripe/credential", { secret: fakeSecret() });
  await mustApi("PUT", "/v1/services/payouts", {
    upstream: upstream.url,
    insecure_upstream: true,
    auth: { type: "bearer" },
    scopes: { "create:payouts": ["POST /v1/payouts"] },
  });
  await mustApi("PUT", "/v1/services/payouts/credential", { secret: fakeSecret() });
  const key = async (name: string, role: string, policy?: unknown) =>
    (await mustApi<{ key: string }>("POST", "/v1/keys", { name, role, ...(policy ? { policy } : {}) })).key;
  const keys = {
    admin: server.adminApiKey,
    issuer: await key("orchestrator", "issuer", {
      allow: [
        { service: "stripe", scopes: ["read:customers"], max_ttl: "10m", max_uses: 100 },
        { service: "payouts", scopes: ["create:payouts"], approval: { required: true, timeout: "15m" } },
      ],
      agents: ["billing-*"],
    }),
    auditor: await key("secops", "auditor"),
    approver: await key("on-call", "approver"),
  };

  return {
    server,
    upstream,
    proxy,
    browser,
    origin,
    keys,
    urls,
    api,
    async use(nonce, method, p) {
      const r = await fetch(`${server.gatewayUrl}${p}`, { method, headers: { authorization: `Bearer ${nonce}` } });
      await r.arrayBuffer();
      return r.status;
    },
    issue: (agent, task, scope = "read:customers") =>
      mustApi("POST", "/v1/nonces", { service: "stripe", scope, agent, task, ttl: "10m" }),
    async page(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport, timezoneId: "Europe/Berlin", locale: "en-GB" });
      const page = await context.newPage();
      page.on("request", (r) => urls.push(r.url()));
      return { context, page };
    },
    async signIn(page, k) {
      await page.goto(`${origin}/console`);
      await page.getByLabel("API key").fill(k);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
    },
    async close() {
      await browser.close();
      await proxy.close();
      await server.stop();
      await upstream.close();
    },
  };
}
