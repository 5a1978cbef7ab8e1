import { type Command, Option } from "commander";
import { type Config, loadConfig } from "../../config.js";
import { type CliIo, println } from "../io.js";
import { port } from "../options.js";

interface ServeOpts {
  host?: string;
  apiPort?: number;
  gatewayPort?: number;
  dataDir?: string;
  databaseUrl?: string;
  config?: string;
  role?: "all" | "api" | "gateway";
  logLevel?: Config["logLevel"];
  tlsCert?: string;
  tlsKey?: string;
  drainTimeout?: string;
}

/**
 * Prints where it listens and, on a first start, the admin key once; runs until SIGINT/SIGTERM, then stops
 * accepting, drains in-flight requests (bounded by `drainTimeout`), flushes the audit and returns (exit 0).
 */
export async function serve(io: CliIo, o: ServeOpts): Promise<void> {
  const config = loadConfig({
    flags: {
      host: o.host,
      apiPort: o.apiPort,
      gatewayPort: o.gatewayPort,
      dataDir: o.dataDir,
      databaseUrl: o.databaseUrl,
      config: o.config,
      role: o.role,
      logLevel: o.logLevel,
      tlsCert: o.tlsCert,
      tlsKey: o.tlsKey,
      drainTimeout: o.drainTimeout,
    },
    env: io.env,
  });
  // Loaded on demand so client commands start fast and never load the server, its store drivers or pino.
  const { startServer } = await import("../../server.js");
  const running = await startServer(config);
  const shutdown = io.waitForShutdown();
  println(io.stdout, "agent-nonce is running");
  if (running.apiUrl) println(io.stdout, `  control plane  ${running.apiUrl}`);
  if (running.gatewayUrl) println(io.stdout, `  gateway        ${running.gatewayUrl}`);
  println(io.stdout, `  data dir       ${config.dataDir}`);
  if (running.adminKey) {
    println(io.stdout);
    println(io.stdout, "Admin API key (store this now, it will not be shown again):");
    println(io.stdout, `  ${running.adminKey}`);
    println(io.stdout);
  }
  await shutdown;
  println(io.stdout, "shutting down");
  await running.close();
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command("serve")
    .description("run the control plane and the gateway")
    .option("--host <host>", "listen address (default 127.0.0.1)")
    .option("--api-port <port>", "control-plane port (default 7070)", port)
    .option("--gateway-port <port>", "gateway port (default 7071)", port)
    .option("--data-dir <dir>", "data directory (default ./.agent-nonce)")
    .option("--database-url <url>", "postgres://… for PostgreSQL (default: SQLite in the data dir)")
    .option("--config <file>", "JSON config file")
    .addOption(new Option("--role <role>", "which listeners to run").choices(["all", "api", "gateway"]))
    .addOption(
      new Option("--log-level <level>").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    )
    .option("--tls-cert <file>", "TLS certificate (PEM) for both listeners")
    .option("--tls-key <file>", "TLS private key (PEM)")
    .option("--drain-timeout <duration>", "on SIGTERM, how long in-flight requests may finish (default 30s)")
    .action((o: ServeOpts) => serve(io, o));
}
