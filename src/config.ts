import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { AppError } from "./core/errors.js";
import { parseDuration } from "./core/ttl.js";
import { DEFAULT_SQLITE_SYNCHRONOUS, SQLITE_SYNCHRONOUS_MODES } from "./store/sqlite-synchronous.js";

/**
 * Server configuration: parsed and validated once, frozen, passed down. Precedence: flags, then environment
 * (`AGENT_NONCE_*`, `DATABASE_URL`), then a JSON config file, then defaults. Only the composition root hands
 * `process.env` in; nothing else reads it.
 */

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch {
    ctx.addIssue({ code: "custom", message: `invalid duration ${JSON.stringify(v)}` });
    return z.NEVER;
  }
});

const port = z.coerce.number().int().min(0).max(65535);
const bytes = z.coerce.number().int().positive();

const count = z.coerce.number().int().positive();

/** Where audit events are copied after commit (src/app/audit-sinks.ts). Bounded queues; never block a request. */
const AuditSink = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("file"),
    /** JSONL, one public event per line, appended (created 0600). */
    path: z.string().min(1),
    batch_size: count.max(10_000).default(500),
    flush_ms: count.default(200),
    max_queue: count.default(100_000),
  }),
  z.strictObject({
    type: z.literal("webhook"),
    /** POSTed `{"events": [...]}` batches. */
    url: z.string().url(),
    /** Extra request headers (e.g. the SIEM's token). Never logged. */
    headers: z.record(z.string(), z.string()).optional(),
    batch_size: count.max(10_000).default(100),
    flush_ms: count.default(1000),
    max_queue: count.default(10_000),
    timeout_ms: count.default(10_000),
    /** Retry delay: exponential from retry_base_ms up to retry_max_ms, with full jitter. */
    retry_base_ms: count.default(250),
    retry_max_ms: count.default(30_000),
  }),
  z.strictObject({
    type: z.literal("approval_webhook"),
    /** POSTed one JSON body per pending approval request (src/app/approval-webhook.ts), HMAC-SHA256 signed. */
    url: z.string().url(),
    /** HMAC key for `X-Agent-Nonce-Signature`. Never logged. */
    secret: z.string().min(16),
    headers: z.record(z.string(), z.string()).optional(),
    batch_size: z.literal(1).default(1),
    flush_ms: count.default(50),
    max_queue: count.default(1_000),
    timeout_ms: count.default(10_000),
    retry_base_ms: count.default(250),
    retry_max_ms: count.default(30_000),
  }),
]);

const AUDIT_DEFAULTS = {
  checkpointEvery: 1000,
  checkpointInterval: 60_000,
  trustedKeys: [] as string[],
  pollMs: 1000,
  heartbeatMs: 15_000,
  sinks: [] as z.output<typeof AuditSink>[],
};

export const ConfigSchema = z
  .object({
    host: z.string().min(1).default("127.0.0.1"),
    apiPort: port.default(7070),
    gatewayPort: port.default(7071),
    dataDir: z.string().min(1).default("./.agent-nonce"),
    databaseUrl: z.string().min(1).optional(),
    role: z.enum(["all", "api", "gateway"]).default("all"),
    /** URL agents use to reach the gateway, returned as `gateway_url`. Defaults to the gateway listener. */
    publicGatewayUrl: z.string().url().optional(),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    sqliteSynchronous: z.enum(SQLITE_SYNCHRONOUS_MODES).default(DEFAULT_SQLITE_SYNCHRONOUS),
    /** On SIGTERM: how long in-flight requests may run after the listeners stop accepting (duration or seconds). */
    drainTimeout: duration.prefault(30),
    ttl: z
      // prefault, not default: zod's .default() skips the transform, so a default must go through parsing.
      .object({ default: duration.prefault(300), min: duration.prefault(1), max: duration.prefault(3600) })
      .prefault({}),
    gateway: z
      .object({
        maxHeaderBytes: bytes.default(16 * 1024),
        maxBodyBytes: bytes.default(10 * 1024 * 1024),
        connectTimeoutMs: bytes.default(5_000),
        headersTimeoutMs: bytes.default(30_000),
        bodyTimeoutMs: bytes.default(60_000),
        maxConcurrentPerNonce: bytes.default(32),
      })
      .default({
        maxHeaderBytes: 16 * 1024,
        maxBodyBytes: 10 * 1024 * 1024,
        connectTimeoutMs: 5_000,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 60_000,
        maxConcurrentPerNonce: 32,
      }),
    audit: z
      .strictObject({
        /** A signed checkpoint after this many events… */
        checkpointEvery: count.default(AUDIT_DEFAULTS.checkpointEvery),
        /** …or after this long with new events (duration or seconds), and on shutdown. */
        checkpointInterval: duration.prefault(60),
        /** Keep events this long (e.g. "90d"), pruned only through a signed checkpoint. Absent: keep forever. */
        retention: duration.optional(),
        /** Signing key ids (JWK thumbprints) of other replicas whose checkpoints verify may start from. */
        trustedKeys: z.array(z.string().min(1).max(100)).max(100).default([]),
        /** How often live readers (stream, sinks) look for other replicas' events. */
        pollMs: count.default(AUDIT_DEFAULTS.pollMs),
        /** Heartbeat comment interval on /v1/audit/stream. */
        heartbeatMs: count.default(AUDIT_DEFAULTS.heartbeatMs),
        sinks: z.array(AuditSink).max(16).default([]),
      })
      .default(AUDIT_DEFAULTS),
    /** Admin API key to install on first start instead of generating one (`AGENT_NONCE_ADMIN_KEY`). */
    adminKey: z.string().optional(),
    /** Base64 master key (`AGENT_NONCE_MASTER_KEY`) instead of the key file in the data dir. */
    masterKey: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.ttl.min > c.ttl.default || c.ttl.default > c.ttl.max) {
      ctx.addIssue({ code: "custom", message: "ttl bounds must satisfy min <= default <= max", path: ["ttl"] });
    }
    if (Boolean(c.tlsCert) !== Boolean(c.tlsKey)) {
      ctx.addIssue({ code: "custom", message: "tlsCert and tlsKey go together", path: ["tlsCert"] });
    }
  });

export type Config = Readonly<z.output<typeof ConfigSchema>>;
export type ConfigInput = z.input<typeof ConfigSchema>;

const ENV_MAP: Record<string, keyof ConfigInput> = {
  AGENT_NONCE_HOST: "host",
  AGENT_NONCE_API_PORT: "apiPort",
  AGENT_NONCE_GATEWAY_PORT: "gatewayPort",
  AGENT_NONCE_DATA_DIR: "dataDir",
  AGENT_NONCE_DATABASE_URL: "databaseUrl",
  DATABASE_URL: "databaseUrl",
  AGENT_NONCE_ROLE: "role",
  AGENT_NONCE_PUBLIC_GATEWAY_URL: "publicGatewayUrl",
  AGENT_NONCE_TLS_CERT: "tlsCert",
  AGENT_NONCE_TLS_KEY: "tlsKey",
  AGENT_NONCE_LOG_LEVEL: "logLevel",
  AGENT_NONCE_SQLITE_SYNCHRONOUS: "sqliteSynchronous",
  AGENT_NONCE_DRAIN_TIMEOUT: "drainTimeout",
  AGENT_NONCE_ADMIN_KEY: "adminKey",
  AGENT_NONCE_MASTER_KEY: "masterKey",
};

function fromEnv(env: Readonly<Record<string, string | undefined>>): Partial<ConfigInput> {
  const out: Record<string, string> = {};
  // AGENT_NONCE_DATABASE_URL wins over DATABASE_URL: iterate so the specific one is applied last.
  for (const name of ["DATABASE_URL", ...Object.keys(ENV_MAP).filter((k) => k !== "DATABASE_URL")]) {
    const v = env[name];
    if (v !== undefined && v !== "") out[ENV_MAP[name] as string] = v;
  }
  return out as Partial<ConfigInput>;
}

function fromFile(file: string): Partial<ConfigInput> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new AppError("invalid_request", `cannot read config file ${file}`);
  }
  try {
    return JSON.parse(text) as Partial<ConfigInput>;
  } catch {
    throw new AppError("invalid_request", `config file ${file} is not valid JSON`);
  }
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function loadConfig(opts: {
  flags?: Partial<ConfigInput> & { config?: string | undefined };
  env?: Readonly<Record<string, string | undefined>>;
}): Config {
  const { config: file, ...flags } = opts.flags ?? {};
  const merged = {
    ...(file ? fromFile(file) : {}),
    ...fromEnv(opts.env ?? {}),
    ...defined(flags),
  };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first?.path.length ? `${first.path.join(".")}: ` : "";
    throw new AppError("invalid_request", `invalid configuration: ${where}${first?.message ?? "unknown error"}`);
  }
  const c = parsed.data;
  return Object.freeze({ ...c, dataDir: path.resolve(c.dataDir) });
}

export function gatewayUrl(c: Config): string {
  if (c.publicGatewayUrl) return c.publicGatewayUrl.replace(/\/$/, "");
  const scheme = c.tlsCert ? "https" : "http";
  const host = c.host.includes(":") ? `[${c.host}]` : c.host;
  return `${scheme}://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${c.gatewayPort}`;
}
