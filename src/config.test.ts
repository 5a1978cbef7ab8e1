import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gatewayUrl, loadConfig } from "./config.js";

describe("config", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      apiPort: 7070,
      gatewayPort: 7071,
      role: "all",
      sqliteSynchronous: "NORMAL",
    });
    expect(c.dataDir).toBe(path.resolve(".agent-nonce"));
    expect(c.ttl).toEqual({ default: 300_000, min: 1000, max: 3_600_000 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(gatewayUrl(c)).toBe("http://127.0.0.1:7071");
  });

  it("takes flags over env over file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "an-cfg-"));
    const file = path.join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ apiPort: 1, gatewayPort: 2, host: "127.0.0.2", ttl: { max: "2h" } }));
    const c = loadConfig({
      flags: { config: file, apiPort: 3 },
      env: { AGENT_NONCE_GATEWAY_PORT: "4", DATABASE_URL: "postgres://a@h/db" },
    });
    expect(c).toMatchObject({ apiPort: 3, gatewayPort: 4, host: "127.0.0.2", databaseUrl: "postgres://a@h/db" });
    expect(c.ttl).toEqual({ default: 300_000, min: 1000, max: 7_200_000 });
  });

  it("prefers AGENT_NONCE_DATABASE_URL over DATABASE_URL", () => {
    const c = loadConfig({ env: { DATABASE_URL: "postgres://x@h/a", AGENT_NONCE_DATABASE_URL: "postgres://y@h/b" } });
    expect(c.databaseUrl).toBe("postgres://y@h/b");
  });

  it.each([
    [{ flags: { apiPort: 70000 } }, /apiPort/],
    [{ flags: { role: "both" as never } }, /role/],
    [{ env: { AGENT_NONCE_API_PORT: "abc" } }, /apiPort/],
    [{ flags: { tlsCert: "/x.pem" } }, /tlsCert and tlsKey/],
  ])("rejects bad settings with a clear message (%#)", (opts, msg) => {
    expect(() => loadConfig(opts)).toThrow(msg);
  });

  it("rejects unknown keys and unreadable or invalid files", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "an-cfg-"));
    const file = path.join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ apiport: 1 }));
    expect(() => loadConfig({ flags: { config: file } })).toThrow(/invalid configuration/);
    writeFileSync(file, "{not json");
    expect(() => loadConfig({ flags: { config: file } })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ flags: { config: path.join(dir, "missing.json") } })).toThrow(/cannot read/);
  });
});
