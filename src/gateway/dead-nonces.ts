import { nonceStatus } from "../core/nonces.js";
import type { NonceRecord, NonceStatus } from "../core/types.js";

/**
 * SECURITY.md rule 14, "dead nonces cost nothing": what this process knows about nonces that can never be used
 * again. Expired, revoked and exhausted are terminal (expiry is immutable, a revocation is never undone, uses only
 * grow and max_uses never does), so remembering that a nonce is dead is always right, on every replica. The
 * opposite — remembering that a nonce is alive — is never done: revocation must take effect at once everywhere,
 * so the consume statement re-checks on every request, and a request about to be denied first reads the live
 * status (Store.getNonceStatus).
 */

export type DeadReason = "nonce_expired" | "nonce_revoked" | "nonce_exhausted";

/** The 401 code of a status, or null while the nonce is active. */
export function deadReason(status: NonceStatus): DeadReason | null {
  switch (status) {
    case "active":
      return null;
    case "expired":
      return "nonce_expired";
    case "revoked":
      return "nonce_revoked";
    case "exhausted":
      return "nonce_exhausted";
  }
}

export function isDeadReason(reason: string): reason is DeadReason {
  return reason === "nonce_expired" || reason === "nonce_revoked" || reason === "nonce_exhausted";
}

// An entry is a short id and a reason (~100 bytes); past this, the least recently presented are forgotten and
// cost one status read (or one consume) again when they come back.
const MAX_KNOWN_DEAD = 50_000;

/** Nonce ids this process has seen dead (bounded LRU: a repeat moves the id to the end). */
export class KnownDead {
  private readonly map = new Map<string, DeadReason>();
  constructor(private readonly max = MAX_KNOWN_DEAD) {}

  /** Why a nonce is dead, from memory only: known dead here, or past its (immutable, cached) expiry. */
  reasonOf(n: { id: string; expiresAt: number }, now: number): DeadReason | null {
    const known = this.map.get(n.id);
    if (known !== undefined) {
      this.map.delete(n.id);
      this.map.set(n.id, known);
      return known;
    }
    // Same boundary as the store: expires_at is exclusive.
    return n.expiresAt <= now ? "nonce_expired" : null;
  }

  mark(id: string, reason: DeadReason): void {
    // Expiry needs no entry: the cached expiry answers it.
    if (reason === "nonce_expired") return;
    this.map.delete(id);
    this.map.set(id, reason);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }

  /** A fresh read of the whole record (a cache miss) tells whether it is already dead: no consume needed then. */
  noteRecord(rec: NonceRecord, now: number): void {
    const reason = deadReason(nonceStatus(rec, now));
    if (reason) this.mark(rec.id, reason);
  }

  get size(): number {
    return this.map.size;
  }
}
