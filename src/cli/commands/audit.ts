import type { AuditEvent, AuditListParams, AuditStreamParams } from "@agent-nonce/sdk";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { clientFromEnv } from "../client.js";
import { CheckFailed, UsageError } from "../errors.js";
import { type CliIo, printJson, println } from "../io.js";
import { positiveInt } from "../options.js";
import { type Cell, cell, table } from "../table.js";

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

  audit
    .command("tail")
    .description("the most recent events; with -f, keep following new ones (server-sent events)")
    .option("-f, --follow", "keep the stream open and print new events as they are committed")
    .option("-n, --lines <n>", "how many recent events to start with (0: only new ones)", count, 20)
    .option("--since-seq <seq>", "start after this seq instead (resume)", positiveInt)
    .option("--agent <agent>")
    .option("--task <task>")
    .option("--nonce <id>", "nonce id (nce_…)")
    .option("--service <service>")
    .option("--type <type>", "event type, e.g. nonce.rejected")
    .option("--json", "one JSON event per line instead of a table row")
    .action(async (o: AuditStreamParams & { lines: number; json?: boolean; sinceSeq?: number }) => {
      const an = clientFromEnv(io);
      const { json, lines, follow, sinceSeq, ...filters } = o;
      const ac = new AbortController();
      void io.waitForShutdown().then(() => ac.abort());
      const stream = an.audit.stream({
        ...filters,
        follow: Boolean(follow),
        signal: ac.signal,
        ...(sinceSeq !== undefined ? { sinceSeq } : { tail: lines }),
      });
      // Streamed rows cannot be aligned in advance: two spaces between cells, as in the header.
      if (!json) println(io.stdout, AUDIT_HEADERS.join("  "));
      for await (const e of stream) {
        println(
          io.stdout,
          json ? JSON.stringify({ ...e, time: e.time.toISOString() }) : auditRow(e).map(cell).join("  "),
        );
      }
    });

  audit
    .command("verify")
    .description("verify the hash chain and every signed checkpoint; exits 1 if anything does not verify")
    .option("--json", "print the API's JSON result")
    .action(async (o: { json?: boolean }) => {
      const r = await clientFromEnv(io).audit.verify();
      if (o.json) printJson(io.stdout, r);
      else if (r.ok) {
        const from = r.fromSeq > 0 ? ` (retained chain after checkpoint seq ${r.fromSeq})` : "";
        println(io.stdout, `ok: ${r.events} events and ${r.checkpoints} signed checkpoints verify${from}`);
      }
      if (!r.ok) {
        throw new CheckFailed(
          `audit trail does not verify: first bad seq ${r.firstBadSeq ?? "?"} (${r.reason ?? "unknown"}); ${r.events} events verified before it`,
        );
      }
    });

  audit
    .command("export")
    .description("every event (or a time window) to stdout as JSON lines, for a SIEM to ingest and re-verify")
    .option("--format <format>", "output format (jsonl)", "jsonl")
    .option("--since <time>", "ISO 8601 time (inclusive)")
    .option("--until <time>", "ISO 8601 time (exclusive)")
    .action(async (o: { format: string; since?: string; until?: string }) => {
      if (o.format !== "jsonl") throw new UsageError("--format must be jsonl");
      const an = clientFromEnv(io);
      for await (const line of an.audit.exportLines({
        ...(o.since ? { since: o.since } : {}),
        ...(o.until ? { until: o.until } : {}),
      })) {
        await write(io, `${line}\n`);
      }
    });
}

function count(value: string): number {
  if (!/^\d{1,5}$/.test(value)) throw new InvalidArgumentError("expected a number from 0 to 99999");
  return Number(value);
}

/** Writes and waits for the stream to drain when it asks to: an export of millions of lines stays bounded. */
function write(io: CliIo, s: string): Promise<void> | undefined {
  const ok = io.stdout.write(s);
  const out = io.stdout as { once?: (ev: string, fn: () => void) => unknown };
  if (ok === false && typeof out.once === "function") {
    return new Promise((resolve) => out.once?.("drain", resolve));
  }
  return undefined;
}
