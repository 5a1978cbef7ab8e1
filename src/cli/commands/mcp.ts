import {
  AgentNonceError,
  type CreateNonceParams,
  fetchNonceView,
  type GatewayTarget,
  isAgentNonceError,
  type NonceView,
  toolName,
} from "@agent-nonce/sdk";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Command } from "commander";
import { NonceLease } from "../../mcp/lease.js";
import { createAgentMcpServer } from "../../mcp/tools.js";
import { clientFromEnv } from "../client.js";
import { UsageError } from "../errors.js";
import { type CliIo, println } from "../io.js";
import { VERSION } from "../main.js";
import { collect, positiveInt, ttl } from "../options.js";

/**
 * `agent-nonce mcp`: an MCP server over stdio exposing one service as tools (src/mcp/tools.ts), in one of two
 * modes. Nonce mode: the host's environment carries AGENT_NONCE_NONCE and AGENT_NONCE_GATEWAY_URL, so the model
 * never sees either. Issuer mode: an issuer key (AGENT_NONCE_URL + AGENT_NONCE_API_KEY) issues a nonce for the
 * session, renews it while the session lives and revokes it when stdin closes or the process is told to stop.
 * stdout belongs to the MCP protocol: everything human goes to stderr. Bad configuration fails before serving,
 * with one clear stderr line and a non-zero exit (2 for usage, 1 for a refused or unreachable nonce).
 */

interface McpOpts {
  service?: string;
  scope?: string[];
  ttl?: string | number;
  agent?: string;
  task?: string;
  maxUses?: number;
}

const MODES =
  "set AGENT_NONCE_NONCE and AGENT_NONCE_GATEWAY_URL (nonce mode), or AGENT_NONCE_API_KEY with --service, " +
  "--scope and --agent (issuer mode)";

interface Session {
  target(): GatewayTarget;
  close(): Promise<void>;
}

function nonceModeSession(io: CliIo, opts: McpOpts): Session {
  if (opts.service || opts.scope || opts.agent) {
    throw new UsageError("AGENT_NONCE_NONCE is set: nonce mode takes no --service/--scope/--agent; unset one");
  }
  const gatewayUrl = io.env.AGENT_NONCE_GATEWAY_URL;
  if (!gatewayUrl) throw new UsageError("AGENT_NONCE_NONCE is set but AGENT_NONCE_GATEWAY_URL is not");
  const target = { gatewayUrl, nonce: io.env.AGENT_NONCE_NONCE as string };
  return { target: () => target, close: async () => undefined };
}

async function issuerModeSession(io: CliIo, opts: McpOpts): Promise<Session> {
  if (!opts.service || !opts.scope?.length || !opts.agent) {
    throw new UsageError(`issuer mode needs --service, --scope and --agent; ${MODES}`);
  }
  const an = clientFromEnv(io);
  const params: CreateNonceParams = {
    service: opts.service,
    scope: opts.scope.length === 1 ? (opts.scope[0] as string) : opts.scope,
    agent: opts.agent,
  };
  if (opts.ttl !== undefined) params.ttl = opts.ttl;
  if (opts.task !== undefined) params.task = opts.task;
  if (opts.maxUses !== undefined) params.maxUses = opts.maxUses;
  const lease = await NonceLease.start(an, params, {
    gatewayUrl: io.env.AGENT_NONCE_GATEWAY_URL,
    events: { notice: (line) => println(io.stderr, `agent-nonce mcp: ${line}`) },
  });
  println(io.stderr, `agent-nonce mcp: issued ${lease.id} for this session`);
  return { target: () => lease.target(), close: () => lease.close() };
}

async function readView(session: Session, mode: "nonce" | "issuer"): Promise<NonceView> {
  try {
    return await fetchNonceView(session.target());
  } catch (e) {
    if (!isAgentNonceError(e)) throw e;
    const what = mode === "nonce" ? "the nonce in AGENT_NONCE_NONCE" : "the session's nonce";
    const why = e.code === "unavailable" ? "the gateway could not be reached" : e.message;
    throw new AgentNonceError(e.code, `${what} cannot be used: ${why}`);
  }
}

/** Resolves when the host goes away (stdin ends) or the process is asked to stop. */
function sessionEnd(io: CliIo, transport: StdioServerTransport): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
    transport.onclose = resolve;
    void io.waitForShutdown().then(resolve);
  });
}

async function runMcp(io: CliIo, opts: McpOpts): Promise<void> {
  const mode = io.env.AGENT_NONCE_NONCE ? "nonce" : opts.service ? "issuer" : null;
  if (!mode) throw new UsageError(MODES);
  const session = mode === "nonce" ? nonceModeSession(io, opts) : await issuerModeSession(io, opts);
  let view: NonceView;
  try {
    view = await readView(session, mode);
  } catch (e) {
    await session.close().catch(() => undefined);
    throw e;
  }
  const server = createAgentMcpServer(session, view, VERSION);
  const transport = new StdioServerTransport(process.stdin, process.stdout);
  const ended = sessionEnd(io, transport);
  await server.connect(transport);
  println(
    io.stderr,
    `agent-nonce mcp: serving ${view.service} (${view.routes.length} routes) as ` +
      `${toolName(view.service, "request")}, ${toolName(view.service, "scopes")}`,
  );
  await ended;
  await server.close().catch(() => undefined);
  await session.close();
  if (mode === "issuer") println(io.stderr, "agent-nonce mcp: session ended, nonce revoked");
}

export function registerMcp(program: Command, io: CliIo): void {
  program
    .command("mcp")
    .description("serve one service to an agent host as MCP tools over stdio (nonce mode or issuer mode)")
    .option("--service <service>", "issuer mode: service to issue a nonce for")
    .option("--scope <scope>", "issuer mode: catalog scope or route pattern, repeatable", collect)
    .option("--ttl <ttl>", "issuer mode: each nonce's lifetime, renewed before expiry (default 5m)", ttl)
    .option("--agent <agent>", "issuer mode: agent identity, on every audit event")
    .option("--task <task>", "issuer mode: task id, for revoke-by-task and audit")
    .option("--max-uses <n>", "issuer mode: requests allowed per nonce", positiveInt)
    .addHelpText(
      "after",
      "\nNonce mode: AGENT_NONCE_NONCE=an_… AGENT_NONCE_GATEWAY_URL=http://127.0.0.1:7071 agent-nonce mcp\n" +
        "Issuer mode: AGENT_NONCE_URL=… AGENT_NONCE_API_KEY=ank_… agent-nonce mcp --service stripe " +
        "--scope read:customers --agent claude --task t-1\nSee docs/mcp.md for host configurations.",
    )
    .action(async (o: McpOpts) => runMcp(io, o));
}
