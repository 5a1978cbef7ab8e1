import { Command, CommanderError } from "commander";
import { registerApproval } from "./commands/approval.js";
import { registerAudit } from "./commands/audit.js";
import { registerCredential } from "./commands/credential.js";
import { registerDemo } from "./commands/demo.js";
import { registerKey } from "./commands/key.js";
import { registerMasterKey } from "./commands/master-key.js";
import { registerMcp } from "./commands/mcp.js";
import { registerNonce } from "./commands/nonce.js";
import { registerServe } from "./commands/serve.js";
import { registerService } from "./commands/service.js";
import { registerTrust } from "./commands/trust.js";
import { describeError } from "./errors.js";
import { type CliIo, println, processIo } from "./io.js";

export const VERSION = "0.1.0";

export function buildProgram(io: CliIo): Command {
  const program = new Command("agent-nonce")
    .description("Just-in-time, scoped, audited credentials for AI agents.")
    .version(VERSION)
    .showSuggestionAfterError(true)
    // Settings below are inherited by every subcommand added afterwards.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Errors are printed once, by run(), in the CLI's own format.
      outputError: () => undefined,
    })
    .addHelpText(
      "after",
      "\nClient commands read AGENT_NONCE_URL (default http://127.0.0.1:7070) and AGENT_NONCE_API_KEY.",
    );
  registerServe(program, io);
  registerDemo(program, io);
  registerService(program, io);
  registerCredential(program, io);
  registerKey(program, io);
  registerTrust(program, io);
  registerApproval(program, io);
  registerNonce(program, io);
  registerAudit(program, io);
  registerMasterKey(program, io);
  registerMcp(program, io);
  return program;
}

/** Runs the CLI with the given argv (`[node, script, ...args]`) and io; returns the exit status. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      // `agent-nonce` or `agent-nonce nonce` alone: help was shown on stderr already.
      if (e.code === "commander.help" || e.code === "commander.executeSubCommandAsync") return 2;
    }
    const { line, exitCode } = describeError(e);
    println(io.stderr, line);
    return exitCode;
  }
}

export async function main(argv: string[]): Promise<void> {
  const code = await run(argv, processIo());
  // `serve` has closed its listeners by now; exit explicitly so a stray handle cannot keep the process alive.
  process.exit(code);
}
