import { AgentNonce } from "@agent-nonce/sdk";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

export const DEFAULT_URL = "http://127.0.0.1:7070";

/** The SDK client for client commands, from AGENT_NONCE_URL and AGENT_NONCE_API_KEY. */
export function clientFromEnv(io: CliIo): AgentNonce {
  const baseUrl = io.env.AGENT_NONCE_URL || DEFAULT_URL;
  const apiKey = io.env.AGENT_NONCE_API_KEY;
  if (!apiKey) {
    throw new UsageError(
      "set AGENT_NONCE_API_KEY to an API key (ank_…); `agent-nonce serve` prints one on first start",
    );
  }
  try {
    return new AgentNonce({ baseUrl, apiKey });
  } catch {
    throw new UsageError(`AGENT_NONCE_URL must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
}
