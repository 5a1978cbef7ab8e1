import { type Command, Option } from "commander";
import { clientFromEnv } from "../client.js";
import { UsageError } from "../errors.js";
import { type CliIo, printJson, println } from "../io.js";
import { readSecret } from "../secret-input.js";

const NEVER_ARGV =
  "credential set never takes the secret on the command line (it would land in shell history and the process " +
  "list): pipe it on stdin or use --from-env VAR";

export function registerCredential(program: Command, io: CliIo): void {
  const credential = program.command("credential").description("set a service's real credential (write-only)");

  credential
    .command("set <service>")
    .description("set the credential from stdin (or --from-env VAR); it is never echoed or returned")
    .option("--from-env <var>", "read the secret from this environment variable")
    .option("--username <username>", "basic auth: the username (the password comes from stdin or --from-env)")
    .option("--json", "print the API's JSON")
    // Declared only to refuse them without echoing their values back.
    .addOption(new Option("--secret <value>").hideHelp())
    .addOption(new Option("--password <value>").hideHelp())
    .allowExcessArguments(true)
    .action(
      async (
        service: string,
        o: { fromEnv?: string; username?: string; json?: boolean; secret?: string; password?: string },
        cmd: Command,
      ) => {
        if (o.secret !== undefined || o.password !== undefined || cmd.args.length > 1) throw new UsageError(NEVER_ARGV);
        const an = clientFromEnv(io);
        const secret = await readSecret(io, {
          fromEnv: o.fromEnv,
          prompt: o.username ? `password for ${o.username}@${service}: ` : `secret for ${service}: `,
        });
        const body = o.username ? { username: o.username, password: secret } : { secret };
        if (o.json) {
          const raw = await an.request("PUT", `/v1/services/${encodeURIComponent(service)}/credential`, { body });
          return printJson(io.stdout, raw);
        }
        const r = await an.services.setCredential(
          service,
          o.username ? { username: o.username, password: secret } : secret,
        );
        println(io.stdout, `credential set for ${service} (fingerprint ${r.fingerprint})`);
      },
    );
}
