import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleEnv, hasChromium, screenshot, startConsoleEnv } from "./console-browser.js";

/**
 * The console in chromium, per role: what a role may not do is not offered. And the API key: in sessionStorage
 * only, never in a URL, a cookie, localStorage or the page.
 */

const ALL = ["Live", "Tasks", "Nonces", "Approvals", "Keys", "Integrity"];

describe.skipIf(!hasChromium)("security console roles and key handling in chromium", () => {
  let env: ConsoleEnv;

  beforeAll(async () => {
    env = await startConsoleEnv();
    await env.issue("billing-bot", "roles-1");
    await env.api(
      "POST",
      "/v1/nonces",
      { service: "payouts", scope: "create:payouts", agent: "billing-payer", task: "roles-2" },
      env.keys.issuer,
    );
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });

  const links = async (key: string) => {
    const { context, page } = await env.page();
    context.setDefaultTimeout(15_000);
    await env.signIn(page, key);
    const names = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allTextContents();
    return { context, page, names };
  };

  it.each([
    ["admin", ALL],
    ["auditor", ["Live", "Tasks", "Nonces", "Approvals", "Integrity"]],
    ["issuer", ["Live", "Tasks", "Nonces", "Approvals"]],
    ["approver", ["Approvals"]],
  ] as const)("%s sees exactly its views, and a view it may not see is not reachable by URL", async (role, want) => {
    const { context, page, names } = await links(env.keys[role]);
    expect(names).toEqual(want);
    for (const hidden of ALL.filter((v) => !(want as readonly string[]).includes(v))) {
      await page.goto(`${env.origin}/console/${hidden.toLowerCase()}`);
      await page.getByRole("heading", { name: want[0], level: 1 }).waitFor();
      await page.waitForURL((u) => u.pathname === `/console/${want[0]?.toLowerCase()}`);
    }
    await context.close();
  });

  it("an auditor is offered no Revoke, no revoke-by-task and no Approve or Deny", async () => {
    const { context, page } = await links(env.keys.auditor);
    await page.getByRole("link", { name: "Nonces", exact: true }).click();
    await page.locator("tr[data-nonce]").first().waitFor();
    expect(await page.getByRole("button", { name: "Revoke", exact: true }).count()).toBe(0);
    expect(await page.getByRole("heading", { name: "Revoke by task or agent" }).count()).toBe(0);
    await page.getByRole("link", { name: "Approvals", exact: true }).click();
    await page.locator("tr[data-approval]").first().waitFor();
    expect(await page.getByRole("button", { name: /Approve|Deny/ }).count()).toBe(0);
    await context.close();
  });

  it("an issuer may revoke its own nonces but is offered no approval decision", async () => {
    const { context, page } = await links(env.keys.issuer);
    const own = await env.api<{ id: string }>(
      "POST",
      "/v1/nonces",
      { service: "stripe", scope: "read:customers", agent: "billing-bot", task: "issuer-own" },
      env.keys.issuer,
    );
    await page.getByRole("link", { name: "Nonces", exact: true }).click();
    await page.locator(`tr[data-nonce="${own.body.id}"]`).getByRole("button", { name: "Revoke" }).waitFor();
    // The admin's nonce of task roles-1 is not the issuer's: the server does not list it.
    expect(await page.locator("tr", { hasText: "roles-1" }).count()).toBe(0);
    await page.getByRole("link", { name: "Approvals", exact: true }).click();
    await page.locator("tr[data-approval]").first().waitFor();
    expect(await page.getByRole("button", { name: /Approve|Deny/ }).count()).toBe(0);
    await context.close();
  });

  it("is readable on a narrow window: nothing overflows the page sideways", async () => {
    const { context, page } = await env.page({ width: 390, height: 800 });
    context.setDefaultTimeout(15_000);
    await env.signIn(page, env.keys.admin);
    for (const view of ["live", "nonces", "keys"]) {
      await page.goto(`${env.origin}/console/${view}`);
      await page.getByRole("heading", { level: 1 }).waitFor();
      const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
      expect(overflow, view).toBeLessThanOrEqual(0);
    }
    await page.goto(`${env.origin}/console/nonces`);
    await page.locator("tr[data-nonce]").first().waitFor();
    await screenshot(page, "nonces-narrow");
    await context.close();
  });

  it("keeps the key in sessionStorage only: never in a URL, a cookie, localStorage or the page", async () => {
    const { context, page } = await env.page();
    context.setDefaultTimeout(15_000);
    const authorized: string[] = [];
    page.on("request", (r) => {
      if (r.headers().authorization) authorized.push(new URL(r.url()).pathname);
    });
    await env.signIn(page, env.keys.admin);
    for (const view of ["Tasks", "Nonces", "Approvals", "Keys", "Integrity", "Live"]) {
      await page.getByRole("link", { name: view, exact: true }).click();
      await page.getByRole("heading", { name: view, level: 1 }).waitFor();
    }
    const storage = await page.evaluate<{ local: number; session: string[] }>(
      "({ local: localStorage.length, session: Object.values(sessionStorage) })",
    );
    expect(storage.local).toBe(0);
    expect(storage.session).toEqual([env.keys.admin]);
    expect(await context.cookies()).toEqual([]);
    expect(await page.content()).not.toContain(env.keys.admin);
    // The Bearer header goes to the API only, never with a page or an asset.
    expect(authorized.length).toBeGreaterThan(0);
    expect(authorized.every((p) => p.startsWith("/v1/"))).toBe(true);
    await context.close();
    // Every URL any page of this run requested (both views and the API), none with any key.
    expect(env.urls.length).toBeGreaterThan(20);
    for (const k of Object.values(env.keys)) {
      expect(env.urls.filter((u) => u.includes(k) || u.includes(encodeURIComponent(k)))).toEqual([]);
    }
  });
});
