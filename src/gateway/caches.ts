import type { GatewayContext } from "../app/context.js";
import { isAwsGrantList } from "../core/aws/grants.js";
import { type ConstraintChecker, compileConstraints } from "../core/constraint-check.js";
import { compileRoutes, type RouteMatcher } from "../core/scopes.js";
import type { NonceRecord, ServiceRecord } from "../core/types.js";
import { CredentialCache } from "./credential-cache.js";
import { KnownDead } from "./dead-nonces.js";
import type { CredentialParams } from "./minted/types.js";
import { checkUpstream, type UpstreamCheck } from "./upstream.js";

/**
 * The gateway's read caches. Only immutable facts are cached: a nonce's id, service, routes, agent and task never
 * change after issuance, so they are kept by token key, with their compiled constraints and parsed rate.
 * Revocation, expiry and use counts are NEVER cached as "alive": the
 * store's consume statement re-checks them atomically on every request, on every replica. Only the terminal
 * outcome is remembered (`dead`, see dead-nonces.ts).
 * Services change, so they are cached for at most SERVICE_TTL_MS and dropped at once on "service.changed", and so
 * is a service's opened credential (credential-cache.ts, which also checks the sealed bytes on every use).
 */

/**
 * Map-backed LRU: a hit moves the key to the end; inserting past `max` evicts the oldest. A hit on the key that is
 * already the newest (a busy agent's nonce, request after request) moves nothing: the order would not change.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  /** The key last set or moved to the end (the newest whenever it is still in the map). */
  private newest: K | undefined = undefined;
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined && key !== this.newest) {
      this.map.delete(key);
      this.map.set(key, v);
      this.newest = key;
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.newest = key;
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  delete(key: K): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
  get size(): number {
    return this.map.size;
  }
}

export interface NonceInfo {
  id: string;
  service: string;
  scopes: string[];
  agent: string;
  task: string | null;
  expiresAt: number;
  routes: string[];
  /** Per-kind parameters of a minted credential (github repositories …), null for static services. */
  params: CredentialParams | null;
  matcher: RouteMatcher;
  /** Compiled request constraints, or null when the nonce has none. */
  constraints: ConstraintChecker | null;
  /** A tripwire nonce (migration 010): refused and alerted on any presentation (tripwires.ts). */
  canary: boolean;
}

export interface ServiceEntry {
  record: ServiceRecord;
  upstream: UpstreamCheck;
}

const SERVICE_TTL_MS = 1_000;
const NO_ROUTES: RouteMatcher = { size: 0, match: () => false };

export class GatewayCaches {
  private readonly nonces = new Lru<string, NonceInfo>(10_000);
  /** Nonce ids known to be expired, revoked or exhausted (terminal), answered without the store. */
  readonly dead = new KnownDead();
  private readonly matchers = new Lru<string, RouteMatcher>(1_000);
  private readonly checkers = new Lru<string, ConstraintChecker>(1_000);
  private readonly services = new Map<string, { entry: ServiceEntry | undefined; at: number }>();
  /** Opened credentials of static services, dropped (zeroed) with their service. */
  readonly credentials: CredentialCache;
  private readonly onServiceChanged = (name: string) => {
    this.services.delete(name);
    this.credentials.drop(name);
  };
  private readonly onResync = () => {
    this.services.clear();
    this.credentials.clear();
  };

  constructor(private readonly ctx: GatewayContext) {
    this.credentials = new CredentialCache(ctx.clock);
    ctx.events.on("service.changed", this.onServiceChanged);
    ctx.events.on("replica.resync", this.onResync);
  }

  dispose(): void {
    this.ctx.events.off("service.changed", this.onServiceChanged);
    this.ctx.events.off("replica.resync", this.onResync);
    this.nonces.clear();
    this.matchers.clear();
    this.checkers.clear();
    this.services.clear();
    this.credentials.dispose();
  }

  /**
   * Immutable part of the nonce with this token key: a cache hit is returned as is (no promise: the hot path
   * awaits only on a miss), a miss reads the store and rejects if the store fails.
   */
  nonce(tokenKey: Buffer): NonceInfo | Promise<NonceInfo | undefined> {
    const key = tokenKey.toString("base64");
    return this.nonces.get(key) ?? this.loadNonce(tokenKey, key);
  }

  private async loadNonce(tokenKey: Buffer, key: string): Promise<NonceInfo | undefined> {
    const rec = await this.ctx.store.getNonceByKey(tokenKey);
    if (!rec) return undefined;
    // A fresh read of the whole row: a nonce already revoked or exhausted is known dead without a consume.
    this.dead.noteRecord(rec, this.ctx.clock.now());
    const info = this.infoFrom(rec);
    this.nonces.set(key, info);
    return info;
  }

  private infoFrom(rec: NonceRecord): NonceInfo {
    const routesKey = rec.routes.join("\n");
    let matcher = this.matchers.get(routesKey);
    if (!matcher) {
      // An aws_sigv4 nonce holds IAM actions, not routes: presented as a token it matches nothing (403).
      matcher = isAwsGrantList(rec.routes) ? NO_ROUTES : compileRoutes(rec.routes);
      this.matchers.set(routesKey, matcher);
    }
    let constraints: ConstraintChecker | null = null;
    if (rec.constraints && Object.keys(rec.constraints).length > 0) {
      // Validated at issuance; a stored object that no longer compiles throws here, and the request fails closed.
      const json = JSON.stringify(rec.constraints);
      constraints = this.checkers.get(json) ?? null;
      if (!constraints) {
        constraints = compileConstraints(rec.constraints);
        this.checkers.set(json, constraints);
      }
    }
    return {
      id: rec.id,
      service: rec.service,
      scopes: rec.scopes,
      agent: rec.agent,
      task: rec.task,
      expiresAt: rec.expiresAt,
      routes: rec.routes,
      params: (rec.credentialParams as CredentialParams | null | undefined) ?? null,
      canary: rec.canary === true,
      matcher,
      constraints,
    };
  }

  /** The service and its checked upstream; like `nonce`, a fresh cache entry is returned without a promise. */
  service(name: string): ServiceEntry | undefined | Promise<ServiceEntry | undefined> {
    const now = this.ctx.clock.now();
    const hit = this.services.get(name);
    if (hit && now - hit.at < SERVICE_TTL_MS && now >= hit.at) return hit.entry;
    return this.loadService(name, now);
  }

  private async loadService(name: string, now: number): Promise<ServiceEntry | undefined> {
    const record = await this.ctx.store.getService(name);
    const entry = record ? { record, upstream: checkUpstream(record) } : undefined;
    this.services.set(name, { entry, at: now });
    return entry;
  }
}
