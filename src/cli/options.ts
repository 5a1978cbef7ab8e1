import { InvalidArgumentError } from "commander";

/** Option parsers shared by the commands. */

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError("expected a positive integer");
  return Number(value);
}

export function port(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError("expected a port (0-65535)");
  return Number(value);
}

/** A JSON object argument (`--constraints '{…}'`). */
export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError("expected a JSON object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError("expected a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/** `--ttl 300` is seconds, as in the API; anything else ("5m") is passed through for the server to parse. */
export function ttl(value: string): string | number {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** `name=ROUTE,ROUTE` → [name, routes]. */
export function scopeEntry(value: string, previous: Array<[string, string[]]> = []): Array<[string, string[]]> {
  const eq = value.indexOf("=");
  const name = value.slice(0, eq).trim();
  const routes = value
    .slice(eq + 1)
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  if (eq <= 0 || !name || routes.length === 0) {
    throw new InvalidArgumentError("expected name=ROUTE[,ROUTE…], e.g. 'read:customers=GET /v1/customers'");
  }
  return [...previous, [name, routes]];
}
