import { readFileSync } from "node:fs";
import type { CreatedApiKey, IssuerPolicy, Role } from "@agent-nonce/sdk";
import { type Command, Option } from "commander";
import { clientFromEnv } from "../client.js";
import { UsageError } from "../errors.js";
import { type CliIo, printJson, println } from "../io.js";
import { keyValues, table } from "../table.js";

/** `--policy '{"allow":[…]}'` or `--policy @policy.json`. */
export function parsePolicy(value: string): IssuerPolicy {
  let text = value;
  if (value.startsWith("@")) {
    try {
      text = readFileSync(value.slice(1), "utf8");
    } catch {
      throw new UsageError(`cannot read policy file ${value.slice(1)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError("--policy must be JSON or @file with JSON");
  }
  if (!parsed || typeof parsed !== "object" || !Array.isArray((parsed as { allow?: unknown }).allow)) {
    throw new UsageError(
      '--policy must be an object like {"allow":[{"service":"stripe","scopes":["read:customers"]}]}',
    );
  }
  return parsed as IssuerPolicy;
}

export function printCreatedKey(io: CliIo, k: CreatedApiKey): void {
  println(
    io.stdout,
    keyValues([
      ["id", k.id],
      ["name", k.name],
      ["role", k.role],
    ]),
  );
  println(io.stdout);
  println(io.stdout, "API key (store this now, it will not be shown again):");
  println(io.stdout, `  ${k.key}`);
}

export function registerKey(program: Command, io: CliIo): void {
  const key = program.command("key").description("manage API keys (admin, issuer, auditor, approver)");

  key
    .command("create")
    .description("create an API key; it is printed once")
    .requiredOption("--name <name>", "a name for the key, e.g. billing-orchestrator")
    .addOption(
      new Option("--role <role>", "what the key may do")
        .choices(["admin", "issuer", "auditor", "approver"])
        .makeOptionMandatory(),
    )
    .option("--policy <json|@file>", "issuer policy: which services, scopes, TTLs and agents it may issue for")
    .option("--json", "print the API's JSON")
    .action(async (o: { name: string; role: Role; policy?: string; json?: boolean }) => {
      const policy = o.policy ? parsePolicy(o.policy) : undefined;
      const an = clientFromEnv(io);
      if (o.json) {
        const body = policy ? { name: o.name, role: o.role, policy } : { name: o.name, role: o.role };
        return printJson(io.stdout, await an.request("POST", "/v1/keys", { body }));
      }
      printCreatedKey(
        io,
        await an.keys.create(policy ? { name: o.name, role: o.role, policy } : { name: o.name, role: o.role }),
      );
    });

  key
    .command("list")
    .description("list API keys (never the keys themselves)")
    .option("--json", "print the API's JSON")
    .action(async (o: { json?: boolean }) => {
      const an = clientFromEnv(io);
      if (o.json) return printJson(io.stdout, await an.request("GET", "/v1/keys"));
      const rows = (await an.keys.list()).map((k) => [
        k.id,
        k.name,
        k.role,
        k.policy ? k.policy.allow.map((r) => `${r.service}:${r.scopes.join("|")}`).join(",") : null,
        k.createdAt,
        k.revokedAt ? "revoked" : "active",
      ]);
      println(io.stdout, table(["ID", "NAME", "ROLE", "POLICY", "CREATED", "STATUS"], rows));
    });

  key
    .command("revoke <id>")
    .description("revoke an API key")
    .action(async (id: string) => {
      await clientFromEnv(io).keys.revoke(id);
      println(io.stdout, `revoked key ${id}`);
    });
}
