import type { AgentNonce, CreateNonceParams, GatewayTarget, Nonce } from "@agent-nonce/sdk";

/**
 * Issuer mode's nonce: issued at start, renewed before it expires while the session lives, revoked at the end.
 * Renewal issues a fresh nonce with the same parameters, switches to it, then revokes the old one, so a tool call
 * never finds the session without a live nonce. Timers and time are injected so tests drive renewal directly.
 */

export interface LeaseTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: LeaseTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending renewal must not keep the process alive once the session has ended.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Renew when a fifth of the lifetime is left, but no earlier than a minute before expiry. */
export function renewDelay(issuedAt: number, expiresAt: number): number {
  const lifetime = Math.max(0, expiresAt - issuedAt);
  const margin = Math.min(60_000, lifetime / 5);
  return Math.max(0, Math.floor(lifetime - margin));
}

const RETRY_MS = 5_000;

export interface LeaseEvents {
  /** One line for stderr: never the token. */
  notice(line: string): void;
}

export class NonceLease {
  #nonce: Nonce;
  #timer: unknown = null;
  #closed = false;
  #renewing: Promise<void> | null = null;

  private constructor(
    private readonly an: AgentNonce,
    private readonly params: CreateNonceParams,
    private readonly gatewayUrl: string | undefined,
    private readonly timers: LeaseTimers,
    private readonly events: LeaseEvents,
    first: Nonce,
  ) {
    this.#nonce = first;
    this.schedule(renewDelay(timers.now(), first.expiresAt.getTime()));
  }

  /** Issues the first nonce; an issuance refusal (policy, unknown service) throws AgentNonceError. */
  static async start(
    an: AgentNonce,
    params: CreateNonceParams,
    opts: { gatewayUrl?: string | undefined; timers?: LeaseTimers; events: LeaseEvents },
  ): Promise<NonceLease> {
    const first = await an.nonces.create(params);
    return new NonceLease(an, params, opts.gatewayUrl, opts.timers ?? realTimers, opts.events, first);
  }

  /** The nonce's public id (`nce_…`), for logs. */
  get id(): string {
    return this.#nonce.id;
  }

  target(): GatewayTarget {
    return { gatewayUrl: this.gatewayUrl || this.#nonce.gatewayUrl, nonce: this.#nonce.nonce };
  }

  private schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = null;
      void this.renew();
    }, ms);
  }

  /** Issues the next nonce and revokes the previous one. Concurrent calls share one renewal. */
  renew(): Promise<void> {
    this.#renewing ??= this.doRenew().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  private async doRenew(): Promise<void> {
    if (this.#closed) return;
    const old = this.#nonce;
    let next: Nonce;
    try {
      next = await this.an.nonces.create(this.params);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      this.events.notice(`renewal of ${old.id} failed (${typeof code === "string" ? code : "error"}); retrying`);
      const left = old.expiresAt.getTime() - this.timers.now();
      if (left > 0) this.schedule(Math.min(RETRY_MS, Math.max(1_000, Math.floor(left / 2))));
      return;
    }
    if (this.#closed) {
      await next.revoke().catch(() => undefined);
      return;
    }
    this.#nonce = next;
    this.events.notice(`renewed: ${old.id} → ${next.id}, expires ${next.expiresAt.toISOString()}`);
    this.schedule(renewDelay(this.timers.now(), next.expiresAt.getTime()));
    await old.revoke().catch(() => this.events.notice(`could not revoke ${old.id}; it expires on its own`));
  }

  /** Stops renewing and revokes the current nonce (waiting for a renewal in flight first). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#renewing?.catch(() => undefined);
    await this.#nonce.revoke();
  }
}
