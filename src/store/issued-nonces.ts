import type { NonceRecord } from "../core/types.js";

/**
 * What a nonce was issued with, kept per store for its consume. Only `uses`, `revoked_at` and the rate state ever
 * change on a nonce row (the store's UPDATEs touch nothing else), so the gateway's consume reads just those, as an
 * array, and takes the rest from here: reading all 23 columns as an object cost ~5 µs per request in better-sqlite3
 * (one internalised key per column per row), plus parsing the JSON columns again. Keyed by nonce id, which is never
 * reused, so an entry can never describe another nonce; a deleted nonce's entry is never found by a consume (its
 * row is gone) and ages out. Entries are frozen, deep: a record built from one shares its arrays and objects, and
 * a caller writing to them would change every later consume's answer.
 */
export class IssuedNonces {
  private readonly byId = new Map<string, Readonly<NonceRecord>>();

  constructor(private readonly max = 4096) {}

  /** The fixed part of nonce `id`, read once with `load` (undefined: no such row). */
  get(id: string, load: () => NonceRecord | undefined): Readonly<NonceRecord> | undefined {
    const hit = this.byId.get(id);
    if (hit !== undefined) return hit;
    const n = load();
    if (n === undefined) return undefined;
    // Insertion order is age: the oldest entry goes first.
    if (this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value as string);
    const fixed = deepFreeze(n);
    this.byId.set(id, fixed);
    return fixed;
  }

  get size(): number {
    return this.byId.size;
  }
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    // A Buffer (the token key) cannot be frozen; nothing on the consume path writes to it.
    if (!ArrayBuffer.isView(v)) {
      Object.freeze(v);
      for (const x of Object.values(v)) deepFreeze(x);
    }
  }
  return v;
}
