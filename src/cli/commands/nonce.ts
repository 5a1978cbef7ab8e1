import type { CreateNonceParams, Nonce, NonceInfo, NonceListParams, NonceStatus } from "@agent-nonce/sdk";
import { type Command, Option } from "commander";
import { clientFromEnv } from "../client.js";
import { UsageError } from "../errors.js";
import { type CliIo, printJson, println } from "../io.js";
import { collect, jsonObject, positiveInt, ttl } from "../options.js";
import { keyValues, table } from "../table.js";

interface CreateOpts {
  service: string;
  scope: string[];
  ttl?: string | number;
  agent: string;
  task?: string;
  maxUses?: number;
  rate?: string;
  constraints?: Record<string, unknown>;
  json?: boolean;
  quiet?: boolean;
}

interface ListOpts {
  agent?: string;
  task?: string;
  service?: string;
  status?: NonceStatus;
  limit?: number;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

function createParams(o: CreateOpts): CreateNonceParams {
  const p: CreateNonceParams = {
    service: o.service,
    scope: o.scope.length === 1 ? (o.scope[0] as string) : o.scope,
    agent: o.agent,
  };
  if (o.ttl !== undefined) p.ttl = o.ttl;
  if (o.task !== undefined) p.task = o.task;
  if (o.maxUses !== undefined) p.maxUses = o.maxUses;
  if (o.rate !== undefined) p.rate = o.rate;
  if (o.constraints !== undefined) p.constraints = o.constraints;
  return p;
}

function describeIssued(n: Nonce): string {
  return keyValues([
    ["id", n.id],
    ["nonce", n.nonce],
    ["service", n.service],
    ["scopes", n.scopes.join(", ")],
    ["agent", n.agent],
    ["task", n.task],
    ["expires_at", n.expiresAt],
    ["max_uses", n.maxUses],
    ["rate", n.rate],
    ["gateway_url", n.gatewayUrl],
  ]);
}

function describeInfo(n: NonceInfo): string {
  return keyValues([
    ["id", n.id],
    ["service", n.service],
    ["scopes", n.scopes.join(", ")],
    ["agent", n.agent],
    ["task", n.task],
    ["status", n.status],
    ["uses", n.maxUses === null ? String(n.uses) : `${n.uses}/${n.maxUses}`],
    ["rate", n.rate],
    ["created_at", n.createdAt],
    ["expires_at", n.expiresAt],
    ["revoked_at", n.revokedAt],
  ]);
}

export function registerNonce(program: Command, io: CliIo): void {
  const nonce = program.command("nonce").description("issue, inspect and revoke nonces");

  nonce
    .command("create")
    .description("issue a nonce for one task (prints the an_… token: hand it to the agent only)")
    .requiredOption("--service <service>", "service name, e.g. stripe")
    .requiredOption("--scope <scope>", "catalog scope or route pattern, repeatable", collect)
    .option("--ttl <ttl>", 'lifetime: "30s", "5m", "1h" or seconds (default 5m)', ttl)
    .requiredOption("--agent <agent>", "agent identity, recorded on every audit event")
    .option("--task <task>", "task id, for revoke-by-task and audit")
    .option("--max-uses <n>", "maximum number of gateway requests", positiveInt)
    .option("--rate <rate>", 'rate limit per gateway process: "60/m" (count per s, m or h)')
    .option(
      "--constraints <json>",
      'request constraints as JSON, e.g. \'{"POST /v1/refunds": {"body.amount": {"max": 5000}}}\'',
      jsonObject,
    )
    .option("--json", "print the API's JSON (includes the token)")
    .option("-q, --quiet", "print only the token, e.g. NONCE=$(agent-nonce nonce create … -q)")
    .action(async (o: CreateOpts) => {
      const an = clientFromEnv(io);
      const params = createParams(o);
      if (o.json) {
        const body: Record<string, unknown> = { ...params };
        delete body.maxUses;
        if (params.maxUses !== undefined) body.max_uses = params.maxUses;
        return printJson(io.stdout, await an.request("POST", "/v1/nonces", { body }));
      }
      const n = await an.nonces.create(params);
      println(io.stdout, o.quiet ? n.nonce : describeIssued(n));
    });

  nonce
    .command("show <id>")
    .description("show a nonce's status (never its token)")
    .option("--json", "print the API's JSON")
    .action(async (id: string, o: { json?: boolean }) => {
      const an = clientFromEnv(io);
      if (o.json) return printJson(io.stdout, await an.request("GET", `/v1/nonces/${encodeURIComponent(id)}`));
      println(io.stdout, describeInfo(await an.nonces.get(id)));
    });

  nonce
    .command("list")
    .description("list nonces")
    .option("--agent <agent>")
    .option("--task <task>")
    .option("--service <service>")
    .addOption(new Option("--status <status>").choices(["active", "expired", "revoked", "exhausted"]))
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>", "continue from a previous page")
    .option("--all", "follow every page")
    .option("--json", "print the API's JSON (one page)")
    .action(async (o: ListOpts) => {
      const an = clientFromEnv(io);
      const { json, all, ...filters } = o;
      if (json) return printJson(io.stdout, await an.request("GET", "/v1/nonces", { query: { ...filters } }));
      let page: { nonces: NonceInfo[]; nextCursor: string | null };
      if (all) {
        const nonces: NonceInfo[] = [];
        for await (const n of an.nonces.iterate(filters as NonceListParams)) nonces.push(n);
        page = { nonces, nextCursor: null };
      } else {
        page = await an.nonces.list(filters as NonceListParams);
      }
      const rows = page.nonces.map((n) => [
        n.id,
        n.service,
        n.agent,
        n.task,
        n.status,
        n.maxUses === null ? n.uses : `${n.uses}/${n.maxUses}`,
        n.expiresAt,
      ]);
      println(io.stdout, table(["ID", "SERVICE", "AGENT", "TASK", "STATUS", "USES", "EXPIRES"], rows));
      if (page.nextCursor) println(io.stderr, `more: --cursor ${page.nextCursor}`);
    });

  nonce
    .command("revoke [id]")
    .description("revoke one nonce by id, or every live nonce of a task, agent or service")
    .option("--task <task>")
    .option("--agent <agent>")
    .option("--service <service>")
    .option("--json", "print the API's JSON")
    .action(async (id: string | undefined, o: { task?: string; agent?: string; service?: string; json?: boolean }) => {
      const where = Object.fromEntries(
        (["task", "agent", "service"] as const).filter((k) => o[k] !== undefined).map((k) => [k, o[k] as string]),
      );
      const hasFilter = Object.keys(where).length > 0;
      if (id !== undefined && hasFilter)
        throw new UsageError("give either a nonce id or --task/--agent/--service, not both");
      if (id === undefined && !hasFilter)
        throw new UsageError("give a nonce id or at least one of --task, --agent, --service");
      const an = clientFromEnv(io);
      if (id !== undefined) {
        await an.nonces.revoke(id);
        if (!o.json) println(io.stdout, `revoked ${id}`);
        return;
      }
      if (o.json) return printJson(io.stdout, await an.request("POST", "/v1/nonces/revoke", { body: where }));
      const n = await an.nonces.revokeWhere(where);
      println(io.stdout, `revoked ${n} nonce${n === 1 ? "" : "s"}`);
    });
}
