import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fingerprint, kekVersionOf, type MasterKeys, open, rewrap, seal } from "./crypto.js";

const keysV1: MasterKeys = { current: 1, keys: new Map([[1, randomBytes(32)]]) };
const secret = () => Buffer.from(`sk_test_FAKE_${randomBytes(12).toString("hex")}`);

describe("envelope encryption", () => {
  it("round-trips and never contains the plaintext", () => {
    const s = secret();
    const blob = seal(keysV1, "stripe", s);
    expect(blob.includes(s)).toBe(false);
    expect(blob.includes(Buffer.from(s.toString("base64")))).toBe(false);
    expect(open(keysV1, "stripe", blob).equals(s)).toBe(true);
  });

  it("uses a fresh data key and IV each time", () => {
    const s = secret();
    expect(seal(keysV1, "stripe", s).equals(seal(keysV1, "stripe", s))).toBe(false);
  });

  it("binds the service name through the AAD", () => {
    const blob = seal(keysV1, "stripe", secret());
    expect(() => open(keysV1, "github", blob)).toThrow(/failed authentication/);
  });

  it("detects any flipped bit", () => {
    const blob = seal(keysV1, "stripe", secret());
    for (const i of [5, 20, 40, 70, 80, blob.length - 1]) {
      const bad = Buffer.from(blob);
      bad[i] = (bad[i] as number) ^ 1;
      expect(() => open(keysV1, "stripe", bad)).toThrow();
    }
  });

  it("binds the key version: relabelling a blob with another version fails", () => {
    const keys: MasterKeys = { current: 2, keys: new Map([...keysV1.keys, [2, randomBytes(32)]]) };
    const blob = seal(keysV1, "stripe", secret());
    const relabelled = Buffer.from(blob);
    relabelled.writeUInt32BE(2, 1);
    expect(() => open(keys, "stripe", relabelled)).toThrow();
  });

  it("rotation re-wraps only the data key; the old master key is then unnecessary", () => {
    const s = secret();
    const blob = seal(keysV1, "stripe", s);
    const v2 = randomBytes(32);
    const both: MasterKeys = { current: 2, keys: new Map([...keysV1.keys, [2, v2]]) };
    const moved = rewrap(both, "stripe", blob);
    expect(kekVersionOf(moved)).toBe(2);
    expect(moved.subarray(65).equals(blob.subarray(65))).toBe(true);
    const onlyV2: MasterKeys = { current: 2, keys: new Map([[2, v2]]) };
    expect(open(onlyV2, "stripe", moved).equals(s)).toBe(true);
    expect(() => open(onlyV2, "stripe", blob)).toThrow(/version 1 is not loaded/);
  });

  it("error messages never carry secret material", () => {
    const s = secret();
    const blob = seal(keysV1, "stripe", s);
    try {
      open(keysV1, "other", blob);
      expect.unreachable();
    } catch (e) {
      expect(String(e)).not.toContain(s.toString());
    }
  });

  it("fingerprints are stable, short and not the secret", () => {
    const s = secret();
    expect(fingerprint("stripe", s)).toBe(fingerprint("stripe", Buffer.from(s)));
    expect(fingerprint("stripe", s)).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(fingerprint("stripe", s)).not.toBe(fingerprint("github", s));
  });
});
