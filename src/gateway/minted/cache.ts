import { draftEvent } from "../../app/audit-draft.js";
import type { GatewayContext } from "../../app/context.js";
import { open } from "../../core/crypto.js";
import type { AuditDraft, ServiceRecord } from "../../core/types.js";
import { buildNeedles } from "../scrub.js";
import { type CredentialMinter, CredentialUnavailable, type MintedCredential, type MintNonce } from "./types.js";

/**
 * The in-memory home of minted credentials (never stored, never logged). One entry per nonce for per-nonce kinds
 * (GitHub installation tokens), one per service for shared kinds (OAuth access tokens). Concurrent requests that
 * need the same entry share one mint (single flight). An entry is re-minted `refreshMarginMs` before it expires;
 * a per-nonce entry is destroyed — revoked upstream where the kind can, secrets zeroed, `credential.destroyed`
 * audited — when its nonce is revoked (event or sweep), exhausted (the gateway's last use) or expires (sweep).
 *
 * Every mint is audited `credential.minted` BEFORE the credential is used (fail closed: if the event cannot be
 * written the new credential is destroyed and the request refused).
 */

export type DestroyReason =
  | "revoked"
  | "exhausted"
  | "expired"
  | "replaced"
  | "service_changed"
  | "refused"
  | "shutdown";

interface Entry {
  key: string;
  minter: CredentialMinter;
  cred: MintedCredential;
  service: ServiceRecord;
  nonce: MintNonce;
  /** Re-mint from this time on. */
  renewAt: number;
  /** Fingerprint of the root credential this entry descends from; another one on the service means re-mint. */
  rootFingerprint: string | null;
  /** Roots this entry's lineage rotated away from: a (≤ 1 s) stale service record still carrying one is no reason
   * to re-mint. */
  superseded: ReadonlySet<string | null>;
  /** Per-nonce entries: the nonce's own expiry. */
  nonceExpiresAt: number | null;
  destroyed: boolean;
}

/** What one request gets: headers to set and its own copies of the scrub needles (the caller wipes them). */
export interface Lease {
  headers: Readonly<Record<string, string>>;
  needles: Buffer[];
  /** Identifies the credential used, for `invalidate` after an upstream 401. */
  entry: object;
  cred: MintedCredential;
}

export interface MintedOptions {
  refreshMarginMs?: number;
  /** Sweep period on the injected clock (checked by a real timer; tests call sweep() directly). */
  sweepEveryMs?: number;
  refusalHoldMs?: number;
}

export class MintedCredentials {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  /** An issuer that refused is not asked again for `refusalHoldMs` (same root credential): no retry storms. */
  private readonly refused = new Map<string, { until: number; root: string | null; reason: string }>();
  private readonly refusalHoldMs: number;
  private readonly margin: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly onRevoked = (id: string) => void this.endNonce(id, "revoked");
  private readonly onServiceChanged = (name: string) => void this.endService(name);

  constructor(
    private readonly ctx: GatewayContext,
    private readonly minters: ReadonlyMap<string, CredentialMinter>,
    opts: MintedOptions = {},
  ) {
    this.margin = opts.refreshMarginMs ?? 60_000;
    this.refusalHoldMs = opts.refusalHoldMs ?? 10_000;
    ctx.events.on("nonce.revoked", this.onRevoked);
    ctx.events.on("service.changed", this.onServiceChanged);
    if (opts.sweepEveryMs !== 0) {
      this.timer = setInterval(() => void this.sweep().catch(() => {}), opts.sweepEveryMs ?? 10_000);
      this.timer.unref();
    }
  }

  minterFor(type: string): CredentialMinter | undefined {
    return this.minters.get(type);
  }

  /** How many credentials are alive (tests, metrics). */
  get size(): number {
    return this.entries.size;
  }

  private keyOf(minter: CredentialMinter, nonce: MintNonce, service: ServiceRecord): string {
    return minter.sharing === "nonce" ? `n:${nonce.id}` : `s:${service.name}`;
  }

  /** A usable credential for this request: cached, or minted now (one mint per key at a time). */
  async lease(minter: CredentialMinter, nonce: MintNonce, service: ServiceRecord, requestId: string): Promise<Lease> {
    const key = this.keyOf(minter, nonce, service);
    for (let attempt = 0; attempt < 2; attempt++) {
      const now = this.ctx.clock.now();
      let e = this.entries.get(key);
      const stale =
        e &&
        (now >= e.renewAt ||
          (e.rootFingerprint !== service.credentialFingerprint && !e.superseded.has(service.credentialFingerprint)));
      if (!e || stale) e = await this.mintOnce(key, minter, nonce, service, requestId, e);
      // Built synchronously, right after the liveness check: a concurrent destroy cannot zero them under us.
      if (!e.destroyed)
        return { headers: e.cred.headers, needles: buildNeedles(e.cred.secrets), entry: e, cred: e.cred };
    }
    throw new CredentialUnavailable("destroyed_while_minting");
  }

  private mintOnce(
    key: string,
    minter: CredentialMinter,
    nonce: MintNonce,
    service: ServiceRecord,
    requestId: string,
    previous: Entry | undefined,
  ): Promise<Entry> {
    const running = this.inflight.get(key);
    if (running) return running;
    const held = this.refused.get(key);
    if (held && held.root === service.credentialFingerprint && this.ctx.clock.now() < held.until) {
      return Promise.reject(new CredentialUnavailable(held.reason));
    }
    const p = this.mint(key, minter, nonce, service, requestId, previous).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async mint(
    key: string,
    minter: CredentialMinter,
    nonce: MintNonce,
    service: ServiceRecord,
    requestId: string,
    previous: Entry | undefined,
  ): Promise<Entry> {
    if (!service.credential) throw new CredentialUnavailable("no_root_credential");
    const now = this.ctx.clock.now();
    let cred: MintedCredential;
    const root = open(this.ctx.masterKeys, service.name, service.credential);
    try {
      cred = await minter.mint({ nonce, service, rootSecret: root, now });
    } catch (e) {
      if (e instanceof CredentialUnavailable) {
        this.refused.set(key, {
          until: now + this.refusalHoldMs,
          root: service.credentialFingerprint,
          reason: e.reason,
        });
        await this.auditFailure(nonce, service, e.reason, requestId);
      }
      throw e;
    } finally {
      root.fill(0);
    }
    const perNonce = minter.sharing === "nonce";
    const entry: Entry = {
      key,
      minter,
      cred,
      service,
      nonce,
      // A per-nonce credential is never used past its nonce; renew before the issuer's expiry.
      renewAt: cred.expiresAt - Math.min(this.margin, (cred.expiresAt - now) / 2),
      nonceExpiresAt: perNonce ? nonce.expiresAt : null,
      rootFingerprint: cred.rootFingerprint ?? service.credentialFingerprint,
      superseded: cred.rootFingerprint
        ? new Set([service.credentialFingerprint, ...[...(previous?.superseded ?? [])].slice(-7)])
        : new Set(),
      destroyed: false,
    };
    try {
      await this.ctx.store.appendAudit([this.draft("credential.minted", entry, null, now, requestId)]);
    } catch (e) {
      this.ctx.metrics.auditWriteFailures.inc();
      await this.destroyEntry(entry, "refused", false);
      throw e;
    }
    this.entries.set(key, entry);
    this.refused.delete(key);
    if (previous && previous !== entry) await this.destroyEntry(previous, "replaced");
    return entry;
  }

  /** After an upstream 401 with a shared (OAuth) credential: drop it so the next lease mints a fresh one. */
  async invalidate(lease: Lease): Promise<void> {
    const e = lease.entry as Entry;
    if (this.entries.get(e.key) === e) await this.destroyEntry(e, "refused");
  }

  /** The nonce ended (revoked, exhausted, expired): its per-nonce credential is destroyed now. */
  async endNonce(nonceId: string, reason: DestroyReason): Promise<void> {
    const e = this.entries.get(`n:${nonceId}`);
    if (e) await this.destroyEntry(e, reason);
  }

  private async endService(name: string): Promise<void> {
    const e = this.entries.get(`s:${name}`);
    if (e) await this.destroyEntry(e, "service_changed");
  }

  /**
   * Destroys what must not live on: per-nonce credentials whose nonce expired, or was revoked or exhausted on any
   * replica (read from the store: in-process revocation events do not cross replicas), and expired shared ones.
   */
  async sweep(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const [k, r] of this.refused) if (now >= r.until) this.refused.delete(k);
    for (const e of [...this.entries.values()]) {
      if (e.destroyed) continue;
      if (e.nonceExpiresAt !== null && now >= e.nonceExpiresAt) {
        await this.destroyEntry(e, "expired");
        continue;
      }
      if (e.nonceExpiresAt === null) {
        if (now >= e.cred.expiresAt) await this.destroyEntry(e, "expired");
        continue;
      }
      const rec = await this.ctx.store.getNonce(e.nonce.id);
      if (!rec || rec.revokedAt !== null) await this.destroyEntry(e, "revoked");
      else if (rec.maxUses !== null && rec.uses >= rec.maxUses) await this.destroyEntry(e, "exhausted");
    }
  }

  private async destroyEntry(e: Entry, reason: DestroyReason, audit = true): Promise<void> {
    if (e.destroyed) return;
    e.destroyed = true;
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    let revoked: boolean | null = null;
    if (e.minter.destroy) {
      try {
        await e.minter.destroy(e.cred, e.service);
        revoked = true;
      } catch (err) {
        revoked = false;
        this.ctx.log.warn(
          { err: (err as Error)?.name, service: e.service.name, reason },
          "minted credential revoke failed",
        );
      }
    }
    for (const s of e.cred.secrets) s.fill(0);
    if (!audit) return;
    const d = this.draft("credential.destroyed", e, reason, this.ctx.clock.now(), null);
    d.data = { ...d.data, revoked_upstream: revoked };
    try {
      await this.ctx.store.appendAudit([d]);
    } catch {
      this.ctx.metrics.auditWriteFailures.inc();
    }
  }

  private draft(
    type: "credential.minted" | "credential.destroyed",
    e: Entry,
    reason: string | null,
    now: number,
    requestId: string | null,
  ): AuditDraft {
    const n = e.nonce;
    return draftEvent(
      type,
      { type: "system", id: "gateway", name: "gateway" },
      {
        agent: n.agent,
        task: n.task,
        nonceId: n.id,
        service: e.service.name,
        scopes: [...n.scopes],
        reason,
        data: {
          kind: e.minter.type,
          fingerprint: e.cred.fingerprint,
          expires_at: new Date(e.cred.expiresAt).toISOString(),
          shared: e.minter.sharing === "service",
          ...(requestId ? { request_id: requestId } : {}),
        },
      },
      now,
    );
  }

  private async auditFailure(nonce: MintNonce, service: ServiceRecord, reason: string, requestId: string) {
    const d = draftEvent(
      "credential.mint_failed",
      { type: "system", id: "gateway", name: "gateway" },
      {
        agent: nonce.agent,
        task: nonce.task,
        nonceId: nonce.id,
        service: service.name,
        scopes: [...nonce.scopes],
        reason,
        data: { kind: service.auth.type, request_id: requestId },
      },
      this.ctx.clock.now(),
    );
    try {
      await this.ctx.store.appendAudit([d]);
    } catch {
      this.ctx.metrics.auditWriteFailures.inc();
    }
  }

  /** Shutdown: per-nonce credentials are revoked upstream (they would otherwise live until their expiry). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.ctx.events.off("nonce.revoked", this.onRevoked);
    this.ctx.events.off("service.changed", this.onServiceChanged);
    await Promise.allSettled([...this.entries.values()].map((e) => this.destroyEntry(e, "shutdown")));
  }
}
