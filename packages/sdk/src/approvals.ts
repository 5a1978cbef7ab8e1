import { AgentNonceError } from "./errors.js";
import type { Transport } from "./http.js";
import type { Wire } from "./wire.js";

/**
 * Human approvals (docs/api.md "Approvals"). When an issuer policy rule needs a human decision, `POST
 * /v1/nonces` answers 202 with a pending approval; the requester polls it until it is decided. The first read
 * after approval carries the nonce, once: `waitForApproval` is the one place that collects it.
 */
export type ApprovalStatus = "pending" | "approved" | "denied" | "expired";

export interface Approval {
  id: string;
  status: ApprovalStatus;
  service: string;
  agent: string;
  task: string | null;
  scopes: string[];
  ttlSeconds: number;
  requestedBy: string;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  comment: string | null;
  nonceId: string | null;
}

export interface WaitOptions {
  /** Give up after this long (ms); default: until the request's own deadline, at most 24 h. */
  timeoutMs?: number;
  /** Cancels the wait: rejects with the signal's reason. */
  signal?: AbortSignal;
  /** First poll delay (ms, default 500); grows by half each poll up to `maxPollIntervalMs` (default 5000). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
}

const d = (v: unknown) => (typeof v === "string" ? new Date(v) : null);

export function approvalFromWire(w: Wire): Approval {
  return {
    id: String(w.id),
    status: w.status as ApprovalStatus,
    service: String(w.service),
    agent: String(w.agent),
    task: (w.task as string | null) ?? null,
    scopes: (w.scopes as string[]) ?? [],
    ttlSeconds: Number(w.ttl_s ?? 0),
    requestedBy: String(w.requested_by),
    createdAt: d(w.created_at) as Date,
    expiresAt: d(w.expires_at) as Date,
    decidedAt: d(w.decided_at),
    decidedBy: (w.decided_by as string | null) ?? null,
    comment: (w.comment as string | null) ?? null,
    nonceId: (w.nonce_id as string | null) ?? null,
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Polls `GET /v1/approvals/{id}` with backoff until it is decided. Resolves with the issued nonce's wire body;
 * rejects with `approval_denied` or `approval_expired` (also when `timeoutMs` ends the wait while still
 * pending: details.pending is then true), or the signal's reason when aborted.
 */
export async function waitForApproval(t: Transport, first: Approval, o: WaitOptions = {}): Promise<Wire> {
  const started = Date.now();
  const untilDeadline = Math.max(0, first.expiresAt.getTime() - started) + 2_000;
  const timeout = Math.min(o.timeoutMs ?? untilDeadline, 24 * 3600_000);
  let delay = o.pollIntervalMs ?? 500;
  const maxDelay = o.maxPollIntervalMs ?? 5_000;
  for (;;) {
    if (o.signal?.aborted) throw o.signal.reason;
    const w = await t.request<Wire>("GET", `/v1/approvals/${encodeURIComponent(first.id)}`);
    const a = (w.approval ?? {}) as Wire;
    const details = { approval_id: first.id, comment: a.comment ?? null };
    if (a.status === "approved") {
      if (a.nonce && typeof a.nonce === "object") return a.nonce as Wire;
      throw new AgentNonceError("conflict", `approval ${first.id}: its nonce was already collected`, { details });
    }
    if (a.status === "denied") {
      throw new AgentNonceError("approval_denied", `approval ${first.id} was denied`, { status: 403, details });
    }
    if (a.status === "expired") {
      throw new AgentNonceError("approval_expired", `approval ${first.id} expired unanswered`, { details });
    }
    const left = timeout - (Date.now() - started);
    if (left <= 0) {
      throw new AgentNonceError("approval_expired", `approval ${first.id}: still pending when the wait ended`, {
        details: { ...details, pending: true },
      });
    }
    await sleep(Math.min(delay, left), o.signal);
    delay = Math.min(maxDelay, Math.ceil(delay * 1.5));
  }
}

export class Approvals {
  constructor(private readonly t: Transport) {}

  async get(id: string): Promise<Approval> {
    const w = await this.t.request<Wire>("GET", `/v1/approvals/${encodeURIComponent(id)}`);
    return approvalFromWire((w.approval ?? {}) as Wire);
  }

  async list(params: { status?: ApprovalStatus; limit?: number; cursor?: string } = {}) {
    const w = await this.t.request<Wire>("GET", "/v1/approvals", { query: { ...params } });
    return {
      approvals: ((w.approvals as Wire[]) ?? []).map(approvalFromWire),
      nextCursor: (w.next_cursor as string | null) ?? null,
    };
  }

  async approve(id: string, comment?: string): Promise<Approval> {
    return this.decide(id, "approve", comment);
  }

  async deny(id: string, comment?: string): Promise<Approval> {
    return this.decide(id, "deny", comment);
  }

  private async decide(id: string, what: "approve" | "deny", comment: string | undefined): Promise<Approval> {
    const body = comment === undefined ? {} : { comment };
    const w = await this.t.request<Wire>("POST", `/v1/approvals/${encodeURIComponent(id)}/${what}`, { body });
    return approvalFromWire((w.approval ?? {}) as Wire);
  }
}
