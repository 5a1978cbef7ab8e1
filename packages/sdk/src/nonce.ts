import { AgentNonceError } from "./errors.js";
import type { FetchLike } from "./http.js";
import { asyncDispose } from "./polyfill.js";
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
  /** Where agents send requests, e.g. `http://127.0.0.1:7071`. */
  readonly gatewayUrl: string;
  readonly gatewayHost: string;
  readonly gatewayPort: number;
  readonly gatewayProtocol: "http" | "https";
  readonly #token: string;
  readonly #revokeById: RevokeById;
  readonly #fetch: FetchLike;
  #revoked: Promise<void> | null = null;

  constructor(w: Wire, deps: { revoke: RevokeById; fetch: FetchLike }) {
    this.id = w.id;
    this.service = w.service;
    this.scopes = Object.freeze(Array.isArray(w.scopes) ? [...w.scopes] : []);
    this.agent = w.agent;
    this.task = typeof w.task === "string" ? w.task : null;
    this.expiresAt = date(w.expires_at) as Date;
    this.maxUses = typeof w.max_uses === "number" ? w.max_uses : null;
    this.rate = typeof w.rate === "string" ? w.rate : null;
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
