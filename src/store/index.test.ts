import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "./index.js";

describe("openStore", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "an-open-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("defaults to SQLite in the data dir, creating the dir 0700", async () => {
    const dataDir = path.join(root, "data");
    const s = await openStore({ dataDir, sqliteSynchronous: "FULL" });
    await s.migrate();
    expect(s.dialect).toBe("sqlite");
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe("700");
    expect((statSync(path.join(dataDir, "agent-nonce.db")).mode & 0o777).toString(8)).toBe("600");
    await s.close();
  });

  it("takes sqlite: URLs", async () => {
    const file = path.join(root, "elsewhere.db");
    const s = await openStore({ databaseUrl: `sqlite:${file}`, dataDir: root, sqliteSynchronous: "NORMAL" });
    await s.migrate();
    expect(statSync(file).isFile()).toBe(true);
    await s.close();
    const t = await openStore({ databaseUrl: `sqlite://${file}`, dataDir: root, sqliteSynchronous: "NORMAL" });
    await t.ping();
    await t.close();
  });

  it("rejects other schemes without echoing the URL", async () => {
    const err = await openStore({
      databaseUrl: "mysql://user:hunter2@db/x",
      dataDir: root,
      sqliteSynchronous: "FULL",
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "invalid_request" });
    expect(String((err as Error).message)).not.toContain("hunter2");
    await expect(openStore({ databaseUrl: "sqlite:", dataDir: root, sqliteSynchronous: "FULL" })).rejects.toMatchObject(
      {
        code: "invalid_request",
      },
    );
  });
});
