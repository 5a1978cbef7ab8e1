import { AppError } from "./errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a TTL given as seconds (number or digit string) or a duration like "30s", "5m", "1h", "1h30m".
 * Returns milliseconds. Throws `invalid_request` for anything else.
 */
export function parseDuration(input: string | number, field = "ttl"): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || !Number.isInteger(input) || input <= 0) {
      throw new AppError(
        "invalid_request",
        `${field} must be a positive whole number of seconds or a duration like "5m"`,
      );
    }
    return input * 1000;
  }
  const s = input.trim();
  if (/^\d{1,9}$/.test(s)) return parseDuration(Number(s), field);
  const re = /(\d{1,9})(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length || total <= 0) {
    throw new AppError(
      "invalid_request",
      `${field} must be a positive whole number of seconds or a duration like "5m"`,
    );
  }
  return total;
}

/** Resolves a requested TTL against the configured bounds. */
export function resolveTtl(
  requested: string | number | undefined,
  bounds: { defaultMs: number; minMs: number; maxMs: number },
): number {
  const ms = requested === undefined ? bounds.defaultMs : parseDuration(requested);
  if (ms < bounds.minMs) throw new AppError("invalid_request", `ttl must be at least ${bounds.minMs / 1000}s`);
  if (ms > bounds.maxMs) throw new AppError("invalid_request", `ttl must be at most ${bounds.maxMs / 1000}s`);
  return ms;
}
