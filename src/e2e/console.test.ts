import path from "node:path";
import Database from "better-sqlite3";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { type ConsoleEnv, hasChromium, screenshot, startConsoleEnv } from "./console-browser.js";

/**
 * The security console in Debian's chromium: sign-in, a live event arriving without reload (and after the
 * connection drops), the task timeline, revoke from the Nonces view, approve and deny, the Integrity view on an
 * intact and on a tampered log. Roles and key handling: console-roles.test.ts.
 */

describe.skipIf(!hasChromium)("security console in chromium", () => {
  let env: ConsoleEnv;
  const cspErrors: string[] = [];

  beforeAll(async () => {
    env = await startConsoleEnv();
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });

  const open = async (key = env.keys.admin) => {
    const { context, page } = await env.page();
    context.setDefaultTimeout(15_000);
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
    await env.signIn(page, key);
    return { context, page };
  };
  const nav = (page: Page, name: string) => page.getByRole("link", { name, exact: true }).click();

  it("signs in with the API key (keyboard only); a wrong key is refused; reload keeps the session", async () => {
    const { context, page } = await env.page();
    await page.goto(`${env.origin}/console`);
    await screenshot(page, "sign-in");
    await page.getByLabel("API key").fill(generateToken("ank"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "refused" }).waitFor();

    await page.getByLabel("API key").fill("");
    await page.getByLabel("API key").focus();
    await page.keyboard.type(env.keys.admin);
    await page.keyboard.press("Enter");
    for (const name of ["Live", "Tasks", "Nonces", "Approvals", "Keys", "Integrity"]) {
      await page.getByRole("link", { name, exact: true }).waitFor();
    }
    await page.waitForURL((u) => u.pathname === "/console/live");
    // Keyboard: Tab reaches the navigation, Enter follows a link.
    await page.getByRole("link", { name: "Nonces", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Nonces", level: 1 }).waitFor();
    expect(await page.evaluate<number>("sessionStorage.length")).toBe(1);
    await page.reload();
    await page.getByRole("heading", { name: "Nonces", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate<number>("sessionStorage.length")).toBe(0);
    await context.close();
  });

  it("Live: a gateway event appears without reload, and after the connection drops it resumes without gaps", async () => {
    const { context, page } = await open();
    await page.getByRole("status").filter({ hasText: "Live:" }).waitFor();
    const n = await env.issue("billing-bot", "live-demo");
    expect(await env.use(n.nonce, "GET", "/v1/customers")).toBe(200);
    const live = page.getByRole("table", { name: /Live audit events/ });
    await live.locator("tr", { hasText: "nonce.used" }).filter({ hasText: "live-demo" }).waitFor();
    expect(await live.locator("tr", { hasText: "nonce.used" }).first().textContent()).toContain("GET /v1/customers");

    env.proxy.cut();
    await page.getByRole("status").filter({ hasText: "reconnecting" }).waitFor();
    const during = await env.issue("billing-bot", "while-cut");
    env.proxy.restore();
    await live.locator("tr", { hasText: "while-cut" }).waitFor();
    await page.getByRole("status").filter({ hasText: "Live:" }).waitFor();
    const seqs = await live.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-seq")));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(await page.content()).not.toContain(during.nonce);
    await screenshot(page, "live");
    await context.close();
  });

  it("Live history pages through a long trail", async () => {
    for (let i = 0; i < 55; i++) await env.issue("billing-bot", "long-history");
    const { context, page } = await open();
    await page.goto(`${env.origin}/console/live?task=long-history`);
    await page.getByRole("button", { name: "Load history" }).click();
    const table = page.getByRole("table", { name: /Stored audit events/ });
    await table.locator("tbody tr").nth(49).waitFor();
    expect(await table.locator("tbody tr").count()).toBe(50);
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByRole("table", { name: /page 2/ }).waitFor();
    expect(
      await page
        .getByRole("table", { name: /page 2/ })
        .locator("tbody tr")
        .count(),
    ).toBe(5);
    await context.close();
  });

  it("Tasks: one task's timeline, issued → used → denied → revoked, with the requests", async () => {
    const n = await env.issue("billing-bot", "sync-42");
    expect(await env.use(n.nonce, "GET", "/v1/customers/cus_1")).toBe(200);
    expect(await env.use(n.nonce, "POST", "/v1/refunds")).toBe(403);
    expect((await env.api("DELETE", `/v1/nonces/${n.id}`)).status).toBe(204);
    expect(await env.use(n.nonce, "GET", "/v1/customers")).toBe(401);

    const { context, page } = await open();
    await nav(page, "Tasks");
    await page.getByLabel("Task", { exact: true }).fill("sync-42");
    await page.getByRole("button", { name: "Show timeline" }).click();
    const timeline = page.getByRole("list", { name: "Timeline of task sync-42" });
    await timeline.locator("li", { hasText: "nonce_revoked" }).waitFor();
    const items = await timeline.locator("li").allTextContents();
    const at = (re: RegExp) => items.findIndex((t) => re.test(t));
    expect(at(/nonce\.issued/)).toBeGreaterThanOrEqual(0);
    expect(at(/nonce\.issued/)).toBeLessThan(at(/nonce\.used.*GET \/v1\/customers\/cus_1/));
    expect(at(/nonce\.used/)).toBeLessThan(at(/nonce\.rejected.*POST \/v1\/refunds.*scope_denied/));
    expect(at(/scope_denied/)).toBeLessThan(at(/nonce\.revoked/));
    expect(at(/nonce\.revoked/)).toBeLessThan(at(/nonce_revoked/));
    const row = page.getByRole("table", { name: /Nonces issued for task sync-42/ }).locator("tr", { hasText: n.id });
    expect(await row.textContent()).toContain("revoked");
    expect(new URL(page.url()).search).toBe("?task=sync-42");
    await screenshot(page, "tasks");
    await context.close();
  });

  it("Nonces: Revoke on a row, and revoke everything of a task after confirming", async () => {
    const a = await env.issue("billing-bot", "kill-1");
    const b = await env.issue("billing-bot", "kill-2");
    const c = await env.issue("billing-reporter", "kill-2");
    const { context, page } = await open();
    await nav(page, "Nonces");
    await page.locator(`tr[data-nonce="${c.id}"]`).waitFor();
    await screenshot(page, "nonces");
    await page.locator(`tr[data-nonce="${a.id}"]`).getByRole("button", { name: "Revoke", exact: true }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Revoked ${a.id}` })
      .waitFor();
    expect((await env.api<{ status: string }>("GET", `/v1/nonces/${a.id}`)).body.status).toBe("revoked");
    expect(await env.use(a.nonce, "GET", "/v1/customers")).toBe(401);
    // The list reloads after the status line shows: wait for the row to go rather than count it once.
    await page.locator(`tr[data-nonce="${a.id}"]`).waitFor({ state: "detached" });

    await page.getByLabel("Task to revoke").fill("kill-2");
    await page.getByRole("button", { name: "Revoke all matching" }).click();
    await page.getByRole("alertdialog").waitFor();
    // Nothing is revoked before the confirmation.
    expect((await env.api<{ status: string }>("GET", `/v1/nonces/${b.id}`)).body.status).toBe("active");
    await page.getByRole("button", { name: "Confirm revoke" }).click();
    await page.getByRole("status").filter({ hasText: "Revoked 2 nonces of task kill-2" }).waitFor();
    for (const n of [b, c]) {
      expect((await env.api<{ status: string }>("GET", `/v1/nonces/${n.id}`)).body.status).toBe("revoked");
    }
    await context.close();
  });

  it("Approvals: an approver approves one request and denies another", async () => {
    const ask = async (task: string) => {
      const r = await env.api<{ approval: { id: string } }>(
        "POST",
        "/v1/nonces",
        { service: "payouts", scope: "create:payouts", agent: "billing-payer", task },
        env.keys.issuer,
      );
      expect(r.status).toBe(202);
      return r.body.approval.id;
    };
    const yes = await ask("payout-7");
    const no = await ask("payout-8");
    const { context, page } = await open(env.keys.approver);
    // The role's first view is chosen once whoami has answered: wait for the route, not just the sign-out button.
    await page.waitForURL((u) => u.pathname === "/console/approvals");
    await page.locator(`tr[data-approval="${no}"]`).waitFor();
    await screenshot(page, "approvals");
    const rowYes = page.locator(`tr[data-approval="${yes}"]`);
    await rowYes.getByLabel(`Comment on ${yes}`).fill("payout run approved");
    await rowYes.getByRole("button", { name: "Approve" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Approved ${yes}` })
      .waitFor();
    await page.locator(`tr[data-approval="${no}"]`).getByRole("button", { name: "Deny" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Denied ${no}` })
      .waitFor();
    const get = async (id: string) =>
      (await env.api<{ approval: { status: string; comment: string | null } }>("GET", `/v1/approvals/${id}`)).body
        .approval;
    expect(await get(yes)).toMatchObject({ status: "approved", comment: "payout run approved" });
    expect(await get(no)).toMatchObject({ status: "denied" });
    await context.close();
  });

  it("Keys: roles and policies, and each credential by fingerprint, never a secret", async () => {
    const { context, page } = await open();
    await nav(page, "Keys");
    const keys = page.getByRole("table", { name: /API keys/ });
    await keys.locator("tr", { hasText: "orchestrator" }).waitFor();
    expect(await keys.locator("tr", { hasText: "orchestrator" }).textContent()).toMatch(/stripe: read:customers/);
    const services = await env.api<{ services: { name: string; credential: { fingerprint: string } }[] }>(
      "GET",
      "/v1/services",
    );
    const fp = services.body.services.find((s) => s.name === "stripe")?.credential.fingerprint as string;
    await page
      .getByRole("table", { name: /real credential/ })
      .locator("tr", { hasText: fp })
      .waitFor();
    const html = await page.content();
    expect(html).not.toMatch(/sk_test_FAKE_/);
    for (const k of Object.values(env.keys)) expect(html).not.toContain(k);
    await screenshot(page, "keys");
    await context.close();
  });

  it("Integrity: intact, then a tampered audit row is reported with its seq", async () => {
    const { context, page } = await open();
    await nav(page, "Integrity");
    await page.getByRole("heading", { name: "Chain intact" }).waitFor();
    await page.getByText("Signed at").waitFor();
    await screenshot(page, "integrity");

    const db = new Database(path.join(env.server.dataDir, "agent-nonce.db"));
    const row = db
      .prepare("SELECT seq, agent FROM audit_events WHERE agent IS NOT NULL ORDER BY seq LIMIT 1")
      .get() as {
      seq: number;
      agent: string;
    };
    try {
      db.prepare("UPDATE audit_events SET agent = 'mallory' WHERE seq = ?").run(row.seq);
      await page.getByRole("button", { name: "Verify again" }).click();
      await page.getByRole("heading", { name: "Chain broken" }).waitFor();
      expect(await page.locator("[data-verdict=broken]").textContent()).toContain(`seq ${row.seq}`);
      await screenshot(page, "integrity-tampered");
    } finally {
      db.prepare("UPDATE audit_events SET agent = ? WHERE seq = ?").run(row.agent, row.seq);
      db.close();
    }
    await page.getByRole("button", { name: "Verify again" }).click();
    await page.getByRole("heading", { name: "Chain intact" }).waitFor();
    await context.close();
  });

  it("no page broke the Content Security Policy", () => {
    expect(cspErrors).toEqual([]);
  });
});
