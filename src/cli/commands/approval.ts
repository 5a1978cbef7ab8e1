import type { Approval, ApprovalStatus } from "@agent-nonce/sdk";
import { type Command, Option } from "commander";
import { clientFromEnv } from "../client.js";
import { type CliIo, printJson, println } from "../io.js";
import { keyValues, table } from "../table.js";

/** `agent-nonce approval list|approve|deny`: what an admin or approver key does with pending nonce requests. */
function printApproval(io: CliIo, a: Approval): void {
  println(
    io.stdout,
    keyValues([
      ["id", a.id],
      ["status", a.status],
      ["service", a.service],
      ["scopes", a.scopes.join(",")],
      ["agent", a.agent],
      ["task", a.task],
      ["requested by", a.requestedBy],
      ["decided by", a.decidedBy],
      ["comment", a.comment],
    ]),
  );
}

export function registerApproval(program: Command, io: CliIo): void {
  const approval = program.command("approval").description("decide nonce requests that wait for a human");

  approval
    .command("list")
    .description("list approval requests, newest first")
    .addOption(
      new Option("--status <status>", "only requests in this state").choices([
        "pending",
        "approved",
        "denied",
        "expired",
      ]),
    )
    .option("--json", "print the API's JSON")
    .action(async (o: { status?: ApprovalStatus; json?: boolean }) => {
      const an = clientFromEnv(io);
      const query = o.status ? { status: o.status } : {};
      if (o.json) return printJson(io.stdout, await an.request("GET", "/v1/approvals", { query }));
      const { approvals } = await an.approvals.list(query);
      const rows = approvals.map((a) => [
        a.id,
        a.status,
        a.service,
        a.scopes.join(","),
        a.agent,
        a.task,
        a.requestedBy,
        a.expiresAt.toISOString(),
      ]);
      println(
        io.stdout,
        table(["ID", "STATUS", "SERVICE", "SCOPES", "AGENT", "TASK", "REQUESTED BY", "EXPIRES"], rows),
      );
    });

  for (const what of ["approve", "deny"] as const) {
    approval
      .command(`${what} <id>`)
      .description(`${what} a pending request (never your own); the first decision wins`)
      .option("--comment <text>", "why, recorded with the decision and in the audit event")
      .option("--json", "print the API's JSON")
      .action(async (id: string, o: { comment?: string; json?: boolean }) => {
        const an = clientFromEnv(io);
        if (o.json) {
          const body = o.comment === undefined ? {} : { comment: o.comment };
          return printJson(
            io.stdout,
            await an.request("POST", `/v1/approvals/${encodeURIComponent(id)}/${what}`, { body }),
          );
        }
        printApproval(
          io,
          what === "approve" ? await an.approvals.approve(id, o.comment) : await an.approvals.deny(id, o.comment),
        );
      });
  }
}
