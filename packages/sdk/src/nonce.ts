import { AgentNonceError } from "./errors.js";
import type { FetchLike } from "./http.js";
import { asyncDispose } from "./polyfill.js";
import type { DelegateNonceParams } from "./types.js";
import type { Wire } from "./wire.js";
import { date } from "./wire.js";

const inspectCustom = Symbol.for("nodejs.util.inspect.custom");

function parseUrl(v: unknown): URL | null {
  try {
    return typeof v === "string" ? new URL(v) : null;
  } catch {
    return null;
  }
}

/** What a handle needs from its client: revoking by id. */
export type RevokeById = (id: string) => Promise<void>;
/** Delegating with a parent token (the client's `POST /v1/nonces/delegate`). */
export type DelegateWith = (parentToken: string, params: DelegateNonceParams) => Promise<Nonce>;

/**
 * A freshly issued nonce. `nonce` is the `an_…` token to hand to the agent; everything else is safe to log.
 * The token is kept in a private field and left out of `toJSON`, `toString` and `util.inspect`, so logging the
 * handle never leaks it. `await using` revokes it when the block ends.
 */
export class Nonce {
  readonly id: string;
  readonly service: string;
  readonly scopes: readonly string[];
  readonly agent: string;
  readonly task: string | null;
  readonly expiresAt: Date;
  readonly maxUses: number | null;
  /** Per-nonce rate limit (`"60/m"`), or null. */
  readonly rate: string | null;
  /** Delegated nonces: the parent's id, else null; the depth below the root nonce (0 for a root). */
  readonly parentId: string | null;
  readonly depth: number;
  readonly canary: boolean;
  /** Where agents send requests, e.g. `http://127.0.0.1:7071`. */
  readonly gatewayUrl: string;
  readonly gatewayHost: string;
  readonly gatewayPort: number;
  readonly gatewayProtocol: "http" | "https";
  readonly #token: string;
  readonly #revokeById: RevokeById;
  readonly #fetch: FetchLike;
  readonly #delegate: DelegateWith | undefined;
  #revoked: Promise<void> | null = null;

  constructor(w: Wire, deps: { revoke: RevokeById; fetch: FetchLike; delegate?: DelegateWith }) {
    this.id = w.id;
    this.service = w.service;
    this.scopes = Object.freeze(Array.isArray(w.scopes) ? [...w.scopes] : []);
    this.agent = w.agent;
    this.task = typeof w.task === "string" ? w.task : null;
    this.expiresAt = date(w.expires_at) as Date;
    this.maxUses = typeof w.max_uses === "number" ? w.max_uses : null;
    this.rate = typeof w.rate === "string" ? w.rate : null;
    this.parentId = typeof w.parent_id === "string" ? w.parent_id : null;
    this.depth = typeof w.depth === "number" ? w.depth : 0;
    this.canary = w.canary === true;
    this.#delegate = deps.delegate;
    this.#token = w.nonce;
    this.#revokeById = deps.revoke;
    this.#fetch = deps.fetch;
    // A nonce that was issued must reach the caller (so it can be revoked) even if gateway_url is unusable.
    const gw = parseUrl(w.gateway_url);
    this.gatewayUrl = gw ? gw.origin + gw.pathname.replace(/\/+$/, "") : "";
    this.gatewayProtocol = gw?.protocol === "https:" ? "https" : "http";
    this.gatewayHost = gw ? gw.hostname.replace(/^\[(.*)\]$/, "$1") : "";
    this.gatewayPort = gw?.port ? Number(gw.port) : this.gatewayProtocol === "https" ? 443 : 80;
  }

  /** The `an_…` token. Give it to the agent (or an official SDK as its API key); never log it. */
  get nonce(): string {
    return this.#token;
  }

  get revoked(): boolean {
    return this.#revoked !== null;
  }

  /**
   * `fetch` through the gateway: `path` (with query) is appended to `gatewayUrl` and the nonce is sent as
   * `Authorization: Bearer`. Returns the raw Response; gateway rejections carry `X-Agent-Nonce-Error`.
   */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    if (!this.gatewayUrl) {
      return Promise.reject(new AgentNonceError("invalid_request", "the server returned no usable gateway_url"));
    }
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.#token}`);
    const url = `${this.gatewayUrl}${path.startsWith("/") ? path : `/${path}`}`;
    return this.#fetch(url, { ...init, headers });
  }

  /**
   * Delegates a narrower child nonce, authenticated by this nonce (no API key needed): for an orchestrator that
   * hands a sub-agent a slice of its own access. The child ends when this nonce is revoked, exhausted or expires.
   */
  delegate(params: DelegateNonceParams): Promise<Nonce> {
    if (!this.#delegate) {
      return Promise.reject(new AgentNonceError("invalid_request", "this handle cannot reach the control plane"));
    }
    return this.#delegate(this.#token, params);
  }

  /** Revokes the nonce. Idempotent: later calls return the first call's outcome without another request. */
  revoke(): Promise<void> {
    if (!this.#revoked) {
      const p = this.#revokeById(this.id);
      this.#revoked = p;
      // A failed revoke may be retried.
      p.catch(() => {
        if (this.#revoked === p) this.#revoked = null;
      });
    }
    return this.#revoked;
  }

  [asyncDispose](): Promise<void> {
    return this.revoke();
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      service: this.service,
      scopes: this.scopes,
      agent: this.agent,
      task: this.task,
      expiresAt: this.expiresAt.toISOString(),
      maxUses: this.maxUses,
      rate: this.rate,
      ...(this.parentId === null ? {} : { parentId: this.parentId, depth: this.depth }),
      gatewayUrl: this.gatewayUrl,
      nonce: "[redacted]",
    };
  }

  toString(): string {
    return `Nonce(${this.id})`;
  }

  [inspectCustom](): string {
    return `Nonce ${JSON.stringify(this.toJSON(), null, 2)}`;
  }
}
