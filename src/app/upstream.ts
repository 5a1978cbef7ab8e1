import { AppError } from "../core/errors.js";
import { isNonPublicHost } from "../core/ip-address.js";

/**
 * Upstream origin validation (SECURITY.md rule 9). An upstream is an origin only: scheme, host, optional port.
 * Plain http and non-public hosts (loopback, private, link-local, their IPv6 transition forms, local names; see
 * core/ip-address.ts) need `insecure_upstream: true`. Host names are checked literally here; a public name that
 * resolves to a private address is the gateway's concern at connect time.
 */

/** Returns the normalised origin (`https://api.stripe.com`) or throws `invalid_request`. */
export function validateUpstream(input: string, insecure: boolean): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new AppError("invalid_request", "upstream must be an absolute URL like https://api.example.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new AppError("invalid_request", "upstream must use https (or http with insecure_upstream)");
  }
  if (url.username || url.password) {
    throw new AppError("invalid_request", "upstream must not carry credentials; set them with the credential endpoint");
  }
  if (url.pathname !== "/" || url.search || url.hash || /[?#]/.test(input)) {
    throw new AppError("invalid_request", "upstream must be an origin only (no path, query or fragment)");
  }
  if (!insecure) {
    if (url.protocol === "http:") {
      throw new AppError("invalid_request", "plain http upstreams need insecure_upstream: true");
    }
    if (isNonPublicHost(url.hostname)) {
      throw new AppError("invalid_request", "loopback, private and link-local upstreams need insecure_upstream: true");
    }
  }
  return url.origin;
}
