import { AppError } from "../core/errors.js";
import { isNonPublicHost } from "../core/ip-address.js";

/**
 * An issuer or JWKS address: https, or http only with `insecure_issuer`; a loopback/private host only with
 * `insecure_issuer` too (the control plane fetches it: an admin typo must not point it at internal services).
 * No credentials, query or fragment: the issuer must be compared exactly with `iss`.
 */
export function checkIssuerUrl(value: string, field: string, insecure: boolean): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new AppError("invalid_request", `${field} is not a valid URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    throw new AppError("invalid_request", `${field} must be https`);
  if (u.protocol === "http:" && !insecure) {
    throw new AppError("invalid_request", `${field} must be https (http only with insecure_issuer: true)`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new AppError("invalid_request", `${field} must not carry credentials, a query or a fragment`);
  }
  if (isNonPublicHost(u.hostname) && !insecure) {
    throw new AppError(
      "invalid_request",
      `${field} is a loopback or private address (allowed only with insecure_issuer: true)`,
    );
  }
  return u;
}
