import { Readable } from "node:stream";
import type { CliIo, In } from "./io.js";

/** An in-memory CliIo for running commands in-process in tests. */
export interface FakeIo extends CliIo {
  out(): string;
  err(): string;
  /** Triggers what SIGINT/SIGTERM would. */
  shutdown(): void;
}

export function fakeIo(opts: { env?: Record<string, string | undefined>; stdin?: string | In } = {}): FakeIo {
  let out = "";
  let err = "";
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const stdin: In =
    typeof opts.stdin === "string" || opts.stdin === undefined
      ? (Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]) as unknown as In)
      : opts.stdin;
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin,
    env: opts.env ?? {},
    waitForShutdown: () => stopped,
    out: () => out,
    err: () => err,
    shutdown: () => stop(),
  };
}

export const argv = (...args: string[]) => ["node", "agent-nonce", ...args];
