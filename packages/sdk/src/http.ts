import { AgentNonceError, errorFromBody } from "./errors.js";

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export type QueryValue = string | number | boolean | Date | null | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Sent as the Bearer token instead of the client's API key (delegation: the parent nonce). */
  bearer?: string;
}

/**
 * The one place the SDK talks HTTP: JSON in, JSON out, errors mapped to AgentNonceError. The API key lives in a
 * private field so it never shows up when the client is logged or inspected.
 */
export class Transport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #apiKey: string | undefined;
  readonly #fetch: FetchLike;

  constructor(opts: { baseUrl: string; apiKey?: string | undefined; fetch?: FetchLike; timeoutMs?: number }) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new AgentNonceError("invalid_request", "baseUrl must be an absolute http(s) URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new AgentNonceError("invalid_request", "baseUrl must be an absolute http(s) URL");
    }
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.#apiKey = opts.apiKey;
    this.#fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  get fetchImpl(): FetchLike {
    return this.#fetch;
  }

  url(path: string, query?: Record<string, QueryValue>): string {
    let s = `${this.baseUrl}${path.startsWith("/") ? path : `/${path}`}`;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v === undefined || v === null || v === "") continue;
        params.set(k, v instanceof Date ? v.toISOString() : String(v));
      }
      const qs = params.toString();
      if (qs) s += `${s.includes("?") ? "&" : "?"}${qs}`;
    }
    return s;
  }

  /** A streaming GET with this client's API key (see `openStream`). */
  open(path: string, o: OpenOptions = {}): Promise<Response> {
    return openStream(this, this.#apiKey, path, o);
  }

  /** Sends a request and returns the parsed JSON body (undefined for 204), throwing AgentNonceError otherwise. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    const bearer = opts.bearer ?? this.#apiKey;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.timeoutMs) };
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    const target = this.url(path, opts.query);
    let res: Response;
    try {
      res = await this.#fetch(target, init);
    } catch (e) {
      throw networkError(e, this.baseUrl, this.timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw networkError(e, this.baseUrl, this.timeoutMs);
    }
    let json: unknown;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!res.ok) {
      throw errorFromBody(res.status, json, `${method} ${path} failed with HTTP ${res.status}`);
    }
    if (text.length > 0 && json === undefined) {
      throw new AgentNonceError("internal", `${method} ${path} returned a body that is not JSON`, {
        status: res.status,
      });
    }
    return json as T;
  }
}

export interface OpenOptions {
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A streaming GET (server-sent events, JSON lines): resolves with the Response once its headers arrived, for the
 * caller to read. No timeout on the body (a live stream has none); the caller's signal ends it. Non-2xx answers
 * throw AgentNonceError like `request` does.
 */
export async function openStream(t: Transport, apiKey: string | undefined, path: string, o: OpenOptions) {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  let res: Response;
  try {
    res = await t.fetchImpl(t.url(path, o.query), {
      method: "GET",
      headers,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (e) {
    throw networkError(e, t.baseUrl, t.timeoutMs);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    throw errorFromBody(res.status, json, `GET ${path} failed with HTTP ${res.status}`);
  }
  return res;
}

function networkError(e: unknown, baseUrl: string, timeoutMs: number): AgentNonceError {
  const name = (e as { name?: unknown } | null)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new AgentNonceError("unavailable", `request to ${baseUrl} timed out after ${timeoutMs} ms`);
  }
  // Undici hides the useful part (ECONNREFUSED…) in `cause`; neither carries the API key.
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : "";
  return new AgentNonceError("unavailable", `cannot reach ${baseUrl}${detail ? ` (${detail})` : ""}`);
}
