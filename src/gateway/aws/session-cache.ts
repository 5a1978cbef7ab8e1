import type { GatewayContext } from "../../app/context.js";
import { open } from "../../core/crypto.js";
import { newId } from "../../core/ids.js";
import type { AuditDraft, ServiceRecord } from "../../core/types.js";
import type { CredentialMinter, MintedCredential, MintNonce } from "../minted/types.js";

/**
 * Per-nonce minted credentials, in memory only (SECURITY.md rule 16). Stands in for the dynamic-credential
 * framework's `MintedCredentials` (minted/cache.ts on branch i12-dynamic-creds, not yet available here) with the
 * same contract: `get` returns the nonce's credential or mints it (single flight), audited `credential.minted`
 * before first use (fail closed); an entry lives no longer than its nonce nor the credential (minus a margin) and
 * is destroyed — zeroed, audited `credential.destroyed` — when the nonce is revoked (event), ends as seen by a
 * consume (expired, revoked, exhausted), or expires (sweep).
 */

const REMINT_MARGIN_MS = 60_000;

interface Entry {
  nonce: MintNonce;
  service: string;
  cred: MintedCredential;
  /** When this entry stops being served: min(nonce expiry, credential expiry - margin). */
  until: number;
}

export class NonceCredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<MintedCredential>>();
  private readonly onRevoked = (id: string) => void this.destroy(id, "nonce_revoked");
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly minter: CredentialMinter,
  ) {
    ctx.events.on("nonce.revoked", this.onRevoked);
    // Wall-clock sweep for idle gateways; tests drive sweep() with their own clock.
    this.sweeper = setInterval(() => void this.sweep(ctx.clock.now()), 10_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  async get(nonce: MintNonce, service: ServiceRecord, now: number): Promise<MintedCredential> {
    void this.sweep(now);
    const hit = this.entries.get(nonce.id);
    if (hit && now < hit.until) return hit.cred;
    if (hit) await this.destroy(nonce.id, "credential_expiring");
    const running = this.pending.get(nonce.id);
    if (running) return running;
    const p = this.mint(nonce, service, now).finally(() => this.pending.delete(nonce.id));
    this.pending.set(nonce.id, p);
    return p;
  }

  private async mint(nonce: MintNonce, service: ServiceRecord, now: number): Promise<MintedCredential> {
    if (!service.credential) throw new Error("service has no root credential");
    const root = open(this.ctx.masterKeys, service.name, service.credential);
    let cred: MintedCredential;
    try {
      cred = await this.minter.mint({ nonce, service, rootSecret: root, now });
    } finally {
      root.fill(0);
    }
    try {
      await this.ctx.store.appendAudit([this.draft("credential.minted", nonce, cred, null)]);
    } catch (e) {
      wipe(cred);
      throw e;
    }
    const until = Math.min(nonce.expiresAt, cred.expiresAt - REMINT_MARGIN_MS);
    this.entries.set(nonce.id, { nonce, service: service.name, cred, until: Math.max(until, now + 1) });
    return cred;
  }

  /** Drops the nonce's credential, zeroes it and audits `credential.destroyed` (best effort). */
  async destroy(nonceId: string, reason: string): Promise<void> {
    const e = this.entries.get(nonceId);
    if (!e) return;
    this.entries.delete(nonceId);
    const draft = this.draft("credential.destroyed", e.nonce, e.cred, reason);
    wipe(e.cred);
    try {
      await this.ctx.store.appendAudit([draft]);
    } catch {
      this.ctx.metrics.auditWriteFailures.inc();
    }
  }

  /** Destroys every credential whose nonce or session has expired at `now`. */
  async sweep(now: number): Promise<void> {
    const due: Array<[string, string]> = [];
    for (const [id, e] of this.entries) {
      if (now >= e.nonce.expiresAt) due.push([id, "nonce_expired"]);
      else if (now >= e.until) due.push([id, "credential_expiring"]);
    }
    for (const [id, reason] of due) await this.destroy(id, reason);
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.ctx.events.off("nonce.revoked", this.onRevoked);
    for (const id of [...this.entries.keys()]) await this.destroy(id, "gateway_stopped");
  }

  private draft(
    type: "credential.minted" | "credential.destroyed",
    n: MintNonce,
    cred: MintedCredential,
    reason: string | null,
  ): AuditDraft {
    const now = this.ctx.clock.now();
    return {
      id: newId("evt", now),
      time: now,
      type,
      actor: { type: "nonce", id: n.id, name: n.agent },
      agent: n.agent,
      task: n.task,
      nonceId: n.id,
      service: n.service,
      scopes: [...n.scopes],
      reason,
      request: null,
      sourceIp: null,
      data: {
        kind: this.minter.type,
        fingerprint: cred.fingerprint,
        expires_at: new Date(cred.expiresAt).toISOString(),
      },
    };
  }
}

function wipe(cred: MintedCredential): void {
  for (const b of cred.secrets) b.fill(0);
  const state = cred.state as Record<string, unknown> | undefined;
  if (state && typeof state === "object") for (const k of Object.keys(state)) state[k] = "";
}
