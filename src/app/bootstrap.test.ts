import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { addMasterKeyVersion, ensureDataDir, loadMasterKeys, MASTER_KEY_FILE } from "./bootstrap.js";

function freshConfig() {
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), "an-boot-")), "data");
  ensureDataDir(dataDir);
  return loadConfig({ flags: { dataDir } });
}

describe("master key bootstrap", () => {
  it("creates a 0700 data dir and a 0600 master key on first start, and reuses it", () => {
    const c = freshConfig();
    expect(statSync(c.dataDir).mode & 0o777).toBe(0o700);
    const first = loadMasterKeys(c);
    const file = path.join(c.dataDir, MASTER_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadMasterKeys(c);
    expect(again.keys.get(1)?.equals(first.keys.get(1) as Buffer)).toBe(true);
  });

  it.each([0o644, 0o640, 0o604])("refuses to start with a master key file of mode %o", (mode) => {
    const c = freshConfig();
    loadMasterKeys(c);
    chmodSync(path.join(c.dataDir, MASTER_KEY_FILE), mode);
    expect(() => loadMasterKeys(c)).toThrow(/readable by other users/);
  });

  it("takes the key from AGENT_NONCE_MASTER_KEY and validates its length", () => {
    const k = randomBytes(32).toString("base64");
    const c = loadConfig({ env: { AGENT_NONCE_MASTER_KEY: k } });
    expect(loadMasterKeys(c).keys.get(1)?.toString("base64")).toBe(k);
    const bad = loadConfig({ env: { AGENT_NONCE_MASTER_KEY: "c2hvcnQ=" } });
    expect(() => loadMasterKeys(bad)).toThrow(/32 bytes/);
  });

  it("adds a new current version on rotation and keeps the old one for unwrapping", () => {
    const c = freshConfig();
    const v1 = loadMasterKeys(c);
    const v2 = addMasterKeyVersion(c);
    expect(v2.current).toBe(2);
    expect(v2.keys.get(1)?.equals(v1.keys.get(1) as Buffer)).toBe(true);
    expect(statSync(path.join(c.dataDir, MASTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path.join(c.dataDir, MASTER_KEY_FILE), "utf8")).current).toBe(2);
  });
});
