import { ERROR_CODES as SDK_ERROR_CODES } from "@agent-nonce/sdk";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../core/errors.js";

describe("SDK error codes", () => {
  it("are exactly the server's codes, in the same order", () => {
    expect([...SDK_ERROR_CODES]).toEqual([...ERROR_CODES]);
  });
});
