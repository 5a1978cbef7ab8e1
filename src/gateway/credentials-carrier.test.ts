import { describe, expect, it } from "vitest";
import { generateToken } from "../core/tokens.js";
import { extractNonce } from "./credentials-carrier.js";

const t = generateToken("an", Date.UTC(2026, 0, 1));
const t2 = generateToken("an", Date.UTC(2026, 0, 1));
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("extractNonce", () => {
  it.each([
    [["Authorization", `Bearer ${t}`]],
    [["authorization", `bearer   ${t}`]],
    [["Authorization", `token ${t}`]],
    [["Authorization", `Basic ${b64(`${t}:`)}`]],
    [["Authorization", `Basic ${b64(`:${t}`)}`]],
    [["Authorization", `Basic ${b64(t)}`]],
    [["X-Agent-Nonce", t]],
    [["x-agent-nonce", ` ${t} `]],
    [["X-Agent-Nonce", t, "Authorization", `Bearer ${t}`]],
    [["Authorization", "Bearer sk_placeholder", "X-Agent-Nonce", t]],
  ])("finds the nonce in %j", (raw) => {
    expect(extractNonce(raw)).toEqual({ token: t });
  });

  it("reports a missing nonce", () => {
    expect(extractNonce([])).toEqual({ missing: true });
    expect(extractNonce(["Cookie", `a=${t}`, "X-Api-Key", t])).toEqual({ missing: true });
    expect(extractNonce(["Authorization", "Digest abc"])).toEqual({ missing: true });
  });

  it("passes a non-nonce bearer on (the caller answers nonce_invalid without a lookup)", () => {
    expect(extractNonce(["Authorization", "Bearer sk_live_x"])).toEqual({ token: "sk_live_x" });
  });

  it("refuses two different nonces, including duplicates node would drop", () => {
    expect(extractNonce(["Authorization", `Bearer ${t}`, "Authorization", `Bearer ${t2}`])).toEqual({ conflict: true });
    expect(extractNonce(["X-Agent-Nonce", t, "Authorization", `Bearer ${t2}`])).toEqual({ conflict: true });
  });
});
