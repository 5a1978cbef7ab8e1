import { nonceDraft } from "../app/audit-draft.js";
import type { GatewayContext } from "../app/context.js";
import type { AuditDraft } from "../core/types.js";
import type { NonceInfo } from "./caches.js";
import type { DeadReason } from "./dead-nonces.js";

/**
 * Tripwires (DESIGN.md "Orchestrator identity, approvals, delegation").
 *
 * Canary nonces are issued never to be used: any presentation — in scope or not, dead or alive, a malformed path,
 * the `/.well-known/agent-nonce` view — means the token leaked. It is checked right after the token is found to
 * be well formed, before anything else answers, is written as `nonce.canary_tripped` (source address, path) and
 * so reaches every audit sink, and is refused 401 `nonce_invalid` (the holder learns nothing), never forwarded.
 *
 * Replayed dead nonces: the addresses a nonce was used from are remembered (bounded: MAX_NONCES nonces, LRU, and
 * MAX_ADDRESSES addresses each); a dead nonce presented from an address not among them counts in
 * `agent_nonce_dead_nonce_new_address_total` and writes `nonce.replayed` once per new address, at most
 * MAX_ADDRESSES events per nonce while it is remembered, so a replay from a botnet cannot flood the log.
 */

const MAX_NONCES = 20_000;
const MAX_ADDRESSES = 16;
/** The raw path as recorded (the canonical form may not exist yet): never the query, bounded. */
const MAX_PATH = 512;

interface Seen {
  addresses: string[];
  alerts: number;
}

export interface Presentation {
  method: string;
  rawUrl: string | undefined;
  sourceIp: string | null;
  now: number;
  requestId: string;
}

export class Tripwires {
  private readonly seen = new Map<string, Seen>();
  /** The id last moved to the end of `seen` (the newest: a hit on it moves nothing, as in caches.ts's Lru). */
  private newest: string | undefined = undefined;

  constructor(private readonly ctx: GatewayContext) {}

  /** A canary was presented: counted and written (the caller refuses it with 401 nonce_invalid). */
  async trip(info: NonceInfo, p: Presentation): Promise<void> {
    this.ctx.metrics.canaryTripped.inc();
    await this.write(this.draft("nonce.canary_tripped", info, "canary", p));
  }

  /** A use that counted: its address is the nonce's own. */
  noteUse(nonceId: string, sourceIp: string | null): void {
    if (sourceIp === null) return;
    const s = this.entry(nonceId);
    if (!s.addresses.includes(sourceIp)) remember(s, sourceIp);
  }

  /** A dead nonce was presented: from a new address, a metric and (bounded) a `nonce.replayed` event. */
  async dead(info: NonceInfo, reason: DeadReason, p: Presentation): Promise<void> {
    if (p.sourceIp === null) return;
    const s = this.entry(info.id);
    if (s.addresses.includes(p.sourceIp)) return;
    remember(s, p.sourceIp);
    this.ctx.metrics.deadNonceNewAddress.inc({ reason });
    if (s.alerts >= MAX_ADDRESSES) return;
    s.alerts += 1;
    const d = this.draft("nonce.replayed", info, reason, p);
    d.data = { ...d.data, new_address: true };
    await this.write(d);
  }

  private entry(id: string): Seen {
    let s = this.seen.get(id);
    if (s) {
      if (id === this.newest) return s;
      this.seen.delete(id);
    } else {
      s = { addresses: [], alerts: 0 };
      if (this.seen.size >= MAX_NONCES) this.seen.delete(this.seen.keys().next().value as string);
    }
    this.seen.set(id, s);
    this.newest = id;
    return s;
  }

  private draft(type: "nonce.canary_tripped" | "nonce.replayed", n: NonceInfo, reason: string, p: Presentation) {
    const path = (p.rawUrl ?? "").split("?")[0]?.slice(0, MAX_PATH) ?? "";
    const request = { method: p.method, path, status: 401, duration_ms: null, bytes: null };
    return nonceDraft(type, n, reason, request, { now: p.now, sourceIp: p.sourceIp, requestId: p.requestId });
  }

  /** Best effort, like every gateway rejection event: the request is refused either way. */
  private async write(d: AuditDraft): Promise<void> {
    try {
      await this.ctx.store.appendAudit([d]);
    } catch (e) {
      this.ctx.metrics.auditWriteFailures.inc();
      this.ctx.log.error(
        { err: e instanceof Error ? e.name : typeof e, type: d.type },
        "gateway tripwire audit write failed",
      );
    }
  }
}

function remember(s: Seen, address: string): void {
  s.addresses.push(address);
  if (s.addresses.length > MAX_ADDRESSES) s.addresses.shift();
}
