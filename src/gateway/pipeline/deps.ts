import type { ServerResponse } from "node:http";
import type { AppContext } from "../../app/context.js";
import type { Config } from "../../config.js";
import type { AwsGateway } from "../aws/index.js";
import type { GatewayCaches } from "../caches.js";
import type { CompletionLog } from "../completion-log.js";
import { BODY_CAP } from "../constraint-gate.js";
import type { DeadNonceLog } from "../dead-nonce-log.js";
import type { Forwarder } from "../forward.js";
import type { MintedCredentials } from "../minted/cache.js";
import { Tripwires } from "../tripwires.js";

/** Everything the stages use, built once per gateway (no per-request closures). */
export interface PipelineDeps {
  ctx: AppContext;
  cfg: Config["gateway"];
  caches: GatewayCaches;
  forwarder: Forwarder;
  completions: CompletionLog;
  deadLog: DeadNonceLog;
  tripwires: Tripwires;
  limits: NonceLimits;
  minted: MintedCredentials | null;
  aws: AwsGateway | null;
  /** The most of a request body a gate reads: min(maxBodyBytes, 1 MiB). */
  bodyCap: number;
}

export function pipelineDeps(
  ctx: AppContext,
  parts: Pick<PipelineDeps, "caches" | "forwarder" | "completions" | "deadLog" | "minted" | "aws">,
): PipelineDeps {
  const cfg = ctx.config.gateway;
  return {
    ctx,
    cfg,
    ...parts,
    tripwires: new Tripwires(ctx),
    limits: new NonceLimits(),
    bodyCap: Math.min(cfg.maxBodyBytes, BODY_CAP),
  };
}

const HELD = Symbol("agent-nonce.held");
type Holding = ServerResponse & { [HELD]?: string | null };

/**
 * Per-nonce requests in flight, kept in this process (released when the response closes): per process by design
 * (docs/operations.md, "Scaling out"). The rate is not here: the store decides it with the use count.
 */
export class NonceLimits {
  private readonly inflight = new Map<string, number>();

  /** Marks a response as holding no slot yet: every response gets the same shape (see `release`). */
  open(res: ServerResponse): void {
    (res as Holding)[HELD] = null;
  }

  /** Takes a slot for the nonce until `res` closes; false when `max` are already in flight. */
  hold(res: ServerResponse, nonceId: string, max: number): boolean {
    const running = this.inflight.get(nonceId) ?? 0;
    if (running >= max) return false;
    this.inflight.set(nonceId, running + 1);
    (res as Holding)[HELD] = nonceId;
    return true;
  }

  /** Called once, when the response closes: gives back the slot it held, if any. */
  release(res: ServerResponse): void {
    const nonceId = (res as Holding)[HELD];
    if (nonceId === null || nonceId === undefined) return;
    (res as Holding)[HELD] = null;
    const n = (this.inflight.get(nonceId) ?? 1) - 1;
    if (n <= 0) this.inflight.delete(nonceId);
    else this.inflight.set(nonceId, n);
  }
}
