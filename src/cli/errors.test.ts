import { AgentNonceError } from "@agent-nonce/sdk";
import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { AppError } from "../core/errors.js";
import { describeError, UsageError } from "./errors.js";

describe("describeError", () => {
  it("maps each kind of failure to one line and an exit status", () => {
    expect(describeError(new AgentNonceError("scope_unknown", "no scope x", { status: 422 }))).toEqual({
      line: "error: scope_unknown: no scope x",
      exitCode: 1,
    });
    expect(describeError(new AppError("invalid_request", "invalid configuration: role"))).toEqual({
      line: "error: invalid_request: invalid configuration: role",
      exitCode: 1,
    });
    expect(describeError(new UsageError("give an id"))).toEqual({
      line: "error: invalid_request: give an id",
      exitCode: 2,
    });
    expect(describeError(new CommanderError(1, "commander.unknownOption", "error: unknown option '--x'"))).toEqual({
      line: "error: invalid_request: unknown option '--x'",
      exitCode: 2,
    });
    const fetchFailed = new TypeError("fetch failed", {
      cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
    });
    expect(describeError(fetchFailed)).toEqual({
      line: "error: unavailable: fetch failed (ECONNREFUSED)",
      exitCode: 1,
    });
    const line = describeError(new Error("boom")).line;
    expect(line).toBe("error: internal: boom");
  });

  it("never prints a password in a URL, a token, an API key or a Stripe-style key", () => {
    const token = `an_${"A1b2C3d4E5".repeat(3)}zzzzzz`;
    const key = `ank_${"Z9y8X7w6V5".repeat(3)}qqqqqq`;
    const { line } = describeError(
      new Error(`connect to postgres://app:hunter2@db:5432/x failed; saw ${token} and ${key} and sk_live_abc123DEF`),
    );
    for (const s of ["hunter2", token, key, "sk_live_abc123DEF"]) expect(line).not.toContain(s);
    expect(line).toContain("postgres://app:…@db:5432/x");
  });
});
