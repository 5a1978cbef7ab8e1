import { type FetchLike, type RequestOptions, Transport } from "./http.js";
import { Approvals, Audit, Keys, Nonces, Services, Templates } from "./resources.js";

export interface AgentNonceOptions {
  /** Control-plane URL, e.g. `http://127.0.0.1:7070`. */
  baseUrl: string;
  /** An `ank_…` API key. */
  apiKey?: string;
  /** A fetch implementation; defaults to the global one. Also used by `Nonce.fetch`. */
  fetch?: FetchLike;
  /** Per-request timeout for control-plane calls. Default 30 s. */
  timeoutMs?: number;
}

const inspectCustom = Symbol.for("nodejs.util.inspect.custom");

/** Client for the Agent Nonce control plane. Talks HTTP only; no server code, no runtime dependencies. */
export class AgentNonce {
  readonly nonces: Nonces;
  readonly services: Services;
  readonly keys: Keys;
  readonly audit: Audit;
  readonly templates: Templates;
  readonly approvals: Approvals;
  readonly #t: Transport;

  constructor(opts: AgentNonceOptions) {
    this.#t = new Transport(opts);
    this.nonces = new Nonces(this.#t);
    this.services = new Services(this.#t);
    this.keys = new Keys(this.#t);
    this.audit = new Audit(this.#t);
    this.templates = new Templates(this.#t);
    this.approvals = new Approvals(this.#t);
  }

  get baseUrl(): string {
    return this.#t.baseUrl;
  }

  /**
   * Escape hatch: any API call, JSON exactly as the API speaks it (snake_case in and out). Errors are still
   * AgentNonceError. Returns undefined for 204.
   */
  request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return this.#t.request<T>(method, path, opts);
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl };
  }

  [inspectCustom](): string {
    return `AgentNonce { baseUrl: ${JSON.stringify(this.baseUrl)} }`;
  }
}
