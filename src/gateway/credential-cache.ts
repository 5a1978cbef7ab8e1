import type { Clock } from "../core/clock.js";
import { type MasterKeys, open } from "../core/crypto.js";
import { AppError } from "../core/errors.js";
import type { ServiceAuth, ServiceRecord } from "../core/types.js";
import { applyInjection, type Injected, type Injection, prepareInjection, wipeInjection } from "./inject.js";

/**
 * The opened credentials of static services (bearer, basic, header, query), kept briefly so that a request does
 * not pay two AES-256-GCM opens, the header value and the scrub needles every time (about 15 µs of a gateway
 * request: scripts/bench/inproc/rest-of-path.mjs).
 *
 * What is kept is only what the request would derive anyway — the header (or query) value and the needles —
 * in Buffers that are zeroed when the entry goes. The secret itself is zeroed at once. An entry is used only
 * for the exact sealed bytes, master keys and auth settings it came from, so a new credential, a master-key
 * rotation (re-wrapped bytes) or an auth change opens afresh on the next request, on every replica, however
 * the service record reached it. It lives at most `ttlMs` from its decryption (not extended by use), is dropped
 * (zeroed) at once on `service.changed` and `replica.resync` (GatewayCaches), by a sweep every `ttlMs`, and
 * past `max` services the least recently used goes.
 *
 * Each request gets its own copies of the needles (the caller wipes them after the response, as before): an
 * entry zeroed while a response is still being scrubbed cannot blind that response's scrubber.
 */

interface Entry {
  keys: MasterKeys;
  sealed: Buffer;
  type: ServiceAuth["type"];
  name: string | undefined;
  prefix: string | undefined;
  injection: Injection;
  openedAt: number;
}

export interface CredentialCacheOptions {
  /** Lifetime of a decrypted entry on the injected clock; 0 turns the cache off (every request decrypts). */
  ttlMs?: number;
  max?: number;
  /** Sweep period of the real timer (checked against the injected clock); 0: no timer (tests call sweep()). */
  sweepEveryMs?: number;
}

export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  /** The service last inserted or moved to the end of `entries` (the newest whenever it is still there). */
  private newest: string | undefined = undefined;
  private readonly ttlMs: number;
  private readonly max: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly clock: Clock,
    opts: CredentialCacheOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.max = opts.max ?? 256;
    const every = opts.sweepEveryMs ?? this.ttlMs;
    if (every > 0 && this.ttlMs > 0) {
      this.timer = setInterval(() => this.sweep(), every);
      this.timer.unref();
    }
  }

  /**
   * Injects the service's credential into `headers` (or the returned query), like `open` + `injectCredential`.
   * Throws what they throw (AppError when the credential does not open, GatewayReject when it cannot be used);
   * nothing is cached then. The returned needles are the caller's: it wipes them when the response is done.
   */
  inject(keys: MasterKeys, service: ServiceRecord, headers: Record<string, string>, query: string): Injected {
    const sealed = service.credential;
    if (sealed === null) throw new AppError("internal", "the service has no credential set");
    const now = this.clock.now();
    let e = this.entries.get(service.name);
    if (e !== undefined && !this.fits(e, keys, sealed, service.auth, now)) {
      this.drop(service.name);
      e = undefined;
    }
    if (e === undefined) {
      const secret = open(keys, service.name, sealed);
      let injection: Injection;
      try {
        injection = prepareInjection(service.auth, secret);
      } finally {
        secret.fill(0);
      }
      if (this.ttlMs <= 0) {
        try {
          return { query: applyInjection(injection, headers, query), needles: injection.needles };
        } finally {
          injection.value.fill(0);
        }
      }
      const { type, name, prefix } = service.auth;
      e = { keys, sealed: Buffer.from(sealed), type, name, prefix, injection, openedAt: now };
      this.entries.set(service.name, e);
      this.newest = service.name;
      if (this.entries.size > this.max) this.drop(this.entries.keys().next().value as string);
    } else if (service.name !== this.newest) {
      // Least recently used goes first past `max` (the newest is already last).
      this.entries.delete(service.name);
      this.entries.set(service.name, e);
      this.newest = service.name;
    }
    const needles = e.injection.needles.map((n) => Buffer.from(n));
    return { query: applyInjection(e.injection, headers, query), needles };
  }

  private fits(e: Entry, keys: MasterKeys, sealed: Buffer, auth: ServiceAuth, now: number): boolean {
    return (
      now - e.openedAt < this.ttlMs &&
      now >= e.openedAt &&
      e.keys === keys &&
      e.type === auth.type &&
      e.name === auth.name &&
      e.prefix === auth.prefix &&
      e.sealed.equals(sealed)
    );
  }

  /** Drops (and zeroes) one service's entry. */
  drop(service: string): void {
    const e = this.entries.get(service);
    if (e === undefined) return;
    this.entries.delete(service);
    wipeInjection(e.injection);
  }

  /** Drops the entries past their lifetime. */
  sweep(): void {
    const now = this.clock.now();
    for (const [name, e] of this.entries) {
      if (now - e.openedAt >= this.ttlMs || now < e.openedAt) this.drop(name);
    }
  }

  clear(): void {
    for (const name of [...this.entries.keys()]) this.drop(name);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
