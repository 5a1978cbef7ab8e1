import type { AuditEvent, AuditListParams } from "@agent-nonce/sdk";
import type { Command } from "commander";
import { clientFromEnv } from "../client.js";
import { type CliIo, printJson, println } from "../io.js";
import { positiveInt } from "../options.js";
import { type Cell, table } from "../table.js";

export const AUDIT_HEADERS = ["TIME", "TYPE", "AGENT", "TASK", "NONCE", "REQUEST", "STATUS", "REASON"];

export function auditRow(e: AuditEvent): Cell[] {
  return [
    // Milliseconds matter when a whole task happens within one second.
    e.time.toISOString(),
    e.type,
    e.agent,
    e.task,
    e.nonceId,
    e.request ? `${e.request.method} ${e.request.path}` : null,
    e.request?.status,
    e.reason,
  ];
}

export function auditTable(events: AuditEvent[]): string {
  return table(AUDIT_HEADERS, events.map(auditRow));
}

export function registerAudit(program: Command, io: CliIo): void {
  const audit = program.command("audit").description("read the audit trail");

  audit
    .command("query")
    .description("query audit events (oldest first)")
    .option("--agent <agent>")
    .option("--task <task>")
    .option("--nonce <id>", "nonce id (nce_…)")
    .option("--service <service>")
    .option("--type <type>", "event type, e.g. nonce.rejected")
    .option("--since <time>", "ISO 8601 time")
    .option("--until <time>", "ISO 8601 time")
    .option("--limit <n>", "page size", positiveInt)
    .option("--cursor <cursor>", "continue from a previous page")
    .option("--all", "follow every page")
    .option("--json", "print the API's JSON (one page)")
    .action(async (o: AuditListParams & { json?: boolean; all?: boolean }) => {
      const an = clientFromEnv(io);
      const { json, all, ...filters } = o;
      if (json) return printJson(io.stdout, await an.request("GET", "/v1/audit", { query: { ...filters } }));
      let page: { events: AuditEvent[]; nextCursor: string | null };
      if (all) {
        const events: AuditEvent[] = [];
        for await (const e of an.audit.iterate(filters)) events.push(e);
        page = { events, nextCursor: null };
      } else {
        page = await an.audit.list(filters);
      }
      println(io.stdout, auditTable(page.events));
      if (page.nextCursor) println(io.stderr, `more: --cursor ${page.nextCursor}`);
    });
}
