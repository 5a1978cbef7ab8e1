import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import { type CliIo, println } from "../io.js";

export function registerMasterKey(program: Command, io: CliIo): void {
  const mk = program.command("master-key").description("manage the master key that wraps stored credentials");
  mk.command("rotate")
    .description(
      "add a new master key version and re-wrap every credential under it (stop the servers first: a running " +
        "server only knows the key versions it loaded at start)",
    )
    .option("--data-dir <dir>", "data dir holding master.key (default ./.agent-nonce)")
    .option("--database-url <url>", "the store (default SQLite in the data dir)")
    .option("--config <file>", "JSON config file")
    .option("--retire", "remove the old key versions from master.key once every credential is re-wrapped")
    .action(async (o: { dataDir?: string; databaseUrl?: string; config?: string; retire?: boolean }) => {
      const config = loadConfig({
        flags: { dataDir: o.dataDir, databaseUrl: o.databaseUrl, config: o.config },
        env: io.env,
      });
      const { rotateMasterKey } = await import("../../app/master-key-rotation.js");
      const { systemClock } = await import("../../core/clock.js");
      const r = await rotateMasterKey(config, systemClock, { retire: o.retire ?? false });
      println(io.stdout, `master key rotated: version ${r.fromVersion} -> ${r.toVersion}`);
      println(io.stdout, `credentials re-wrapped: ${r.credentials}`);
      if (r.retired.length > 0) println(io.stdout, `retired versions: ${r.retired.join(", ")}`);
    });
}
