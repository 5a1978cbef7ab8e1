import { UsageError } from "./errors.js";
import type { CliIo, In } from "./io.js";

/**
 * Reads a secret the only ways the CLI accepts one: from an environment variable named on the command line, or
 * from stdin (piped: everything, minus one trailing newline; a terminal: one line, not echoed). Never argv,
 * which ends up in shell history and the process list.
 */

export async function readAll(stdin: In): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString("utf8");
}

export function stripOneNewline(s: string): string {
  if (s.endsWith("\r\n")) return s.slice(0, -2);
  if (s.endsWith("\n")) return s.slice(0, -1);
  return s;
}

/** One line from a terminal in raw mode, without echoing it. */
async function readHiddenLine(io: CliIo, prompt: string): Promise<string> {
  io.stderr.write(prompt);
  io.stdin.setRawMode?.(true);
  let line = "";
  try {
    for await (const c of io.stdin) {
      for (const ch of typeof c === "string" ? c : c.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return line;
        if (ch === "\u0003") throw new UsageError("cancelled");
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    }
    return line;
  } finally {
    io.stdin.setRawMode?.(false);
    io.stderr.write("\n");
  }
}

export async function readSecret(io: CliIo, opts: { fromEnv?: string | undefined; prompt: string }): Promise<string> {
  let secret: string;
  if (opts.fromEnv !== undefined) {
    const v = io.env[opts.fromEnv];
    if (v === undefined || v === "") throw new UsageError(`environment variable ${opts.fromEnv} is not set or empty`);
    secret = v;
  } else if (io.stdin.isTTY) {
    secret = await readHiddenLine(io, opts.prompt);
  } else {
    secret = stripOneNewline(await readAll(io.stdin));
  }
  if (secret.length === 0) throw new UsageError("the secret is empty (pipe it on stdin or use --from-env VAR)");
  return secret;
}
