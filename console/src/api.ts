import { forgetKey, SIGNED_OUT, storedKey } from "./session.js";

/** A refused API call: the API's stable error code and message (never a secret: the server guarantees it). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A query string from the set fields only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function authHeaders(key: string | null = storedKey()): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** Same-origin fetch options: no cookies, no referrer, nothing cached. */
export const FETCH_DEFAULTS: RequestInit = { credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };

export async function failure(res: Response): Promise<ApiError> {
  let code = "http_error";
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not JSON: keep the status
  }
  if (res.status === 401) {
    forgetKey();
    window.dispatchEvent(new Event(SIGNED_OUT));
  }
  return new ApiError(res.status, code, message);
}

/** One audited API call with the session's key as a Bearer header. */
export async function api<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(key ?? storedKey()), accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    ...FETCH_DEFAULTS,
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const errorText = (e: unknown): string =>
  e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
