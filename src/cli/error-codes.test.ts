import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ERROR_CODES as SDK_ERROR_CODES } from "@agent-nonce/sdk";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../core/errors.js";

const PYTHON_SDK = fileURLToPath(new URL("../../packages/python", import.meta.url));

describe("SDK error codes", () => {
  it("are exactly the server's codes, in the same order", () => {
    expect([...SDK_ERROR_CODES]).toEqual([...ERROR_CODES]);
  });

  it("the Python SDK's copy is exactly the server's codes, in the same order", () => {
    const out = execFileSync(
      "python3",
      ["-c", "import json; from agent_nonce.errors import ERROR_CODES; print(json.dumps(list(ERROR_CODES)))"],
      { env: { ...process.env, PYTHONPATH: PYTHON_SDK }, encoding: "utf8" },
    );
    expect(JSON.parse(out)).toEqual([...ERROR_CODES]);
  });
});
