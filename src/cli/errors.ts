import { AgentNonceError } from "@agent-nonce/sdk";
import { CommanderError } from "commander";
import { AppError } from "../core/errors.js";

/** A mistake in how the CLI was invoked: exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A step that did not behave as expected (used by `demo`): exit status 1. */
export class CheckFailed extends Error {
  override readonly name = "CheckFailed";
}

/** Commander echoes unknown options verbatim; `--secret=sk_live_…` must not come back out on stderr. */
function redactOptionValues(message: string): string {
  return message.replace(/'(--?[A-Za-z0-9-]+)=[^']*'/g, "'$1=…'");
}

/**
 * Second line of defence for stderr: messages are not supposed to carry credentials, but a database URL with a
 * password or a token pasted into the wrong flag must not be printed back if one ever does.
 */
export function redactSecrets(line: string): string {
  return line
    .replace(/(\w+:\/\/[^:/@\s]+:)[^@\s]+@/g, "$1…@")
    .replace(/\b(an|ank)_[0-9A-Za-z]{20,}/g, "$1_…")
    .replace(/\b(sk|rk|pk)_(live|test)_[0-9A-Za-z_]+/g, "$1_$2_…");
}

/** Maps any failure to one stderr line `error: <code>: <message>` and an exit status. Never a stack trace. */
export function describeError(e: unknown): { line: string; exitCode: number } {
  const d = describe(e);
  return { line: redactSecrets(d.line), exitCode: d.exitCode };
}

function describe(e: unknown): { line: string; exitCode: number } {
  if (e instanceof CommanderError) {
    const msg = redactOptionValues(e.message.replace(/^error:\s*/i, ""));
    return { line: `error: invalid_request: ${msg}`, exitCode: 2 };
  }
  if (e instanceof UsageError) return { line: `error: invalid_request: ${e.message}`, exitCode: 2 };
  if (e instanceof AgentNonceError || e instanceof AppError) {
    return { line: `error: ${e.code}: ${e.message}`, exitCode: 1 };
  }
  if (e instanceof CheckFailed) return { line: `error: check_failed: ${e.message}`, exitCode: 1 };
  const code = (e as NodeJS.ErrnoException | null)?.code;
  // fetch() through the gateway fails as TypeError("fetch failed") with the reason in `cause`.
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (typeof cause === "string") return { line: `error: unavailable: ${message} (${cause})`, exitCode: 1 };
  if (code === "EADDRINUSE" || code === "EACCES" || code === "ECONNREFUSED") {
    return { line: `error: unavailable: ${message}`, exitCode: 1 };
  }
  return { line: `error: internal: ${message}`, exitCode: 1 };
}
