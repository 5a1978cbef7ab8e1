import { isIP } from "node:net";
import { AppError } from "../core/errors.js";

/**
 * Upstream origin validation (SECURITY.md rule 9). An upstream is an origin only: scheme, host, optional port.
 * Plain http and loopback/private/link-local hosts need `insecure_upstream: true`. Host names are checked
 * literally here; a public name that resolves to a private address is the gateway's concern at connect time.
 */

function ipv4Private(a: number, b: number): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) // carrier-grade NAT, often internal
  );
}

function ipv4Octets(host: string): [number, number] | null {
  const parts = host.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  return [parts[0] as number, parts[1] as number];
}

/** Expands an IPv6 literal (no brackets) into 8 16-bit groups. */
function ipv6Groups(host: string): number[] | null {
  let h = host.toLowerCase();
  // Embedded dotted IPv4 tail (::ffff:1.2.3.4): convert to two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (dotted) {
    const parts = (dotted[1] as string).split(".").map(Number);
    const hi = ((parts[0] as number) << 8) | (parts[1] as number);
    const lo = ((parts[2] as number) << 8) | (parts[3] as number);
    h = `${h.slice(0, dotted.index)}${hi.toString(16)}:${lo.toString(16)}`;
  }
  const [head, tail] = h.split("::") as [string, string | undefined];
  const a = head ? head.split(":") : [];
  const b = tail ? tail.split(":") : [];
  const fill = h.includes("::") ? 8 - a.length - b.length : 0;
  const groups = [...a, ...Array<string>(fill).fill("0"), ...b].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** True for loopback, private, link-local, unique-local and unspecified addresses, and `localhost` names. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const kind = isIP(host);
  if (kind === 4) {
    const o = ipv4Octets(host);
    return o === null || ipv4Private(o[0], o[1]);
  }
  if (kind === 6) {
    const g = ipv6Groups(host);
    if (!g) return true;
    const [g0, , , , , g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
    if (g.slice(0, 7).every((x) => x === 0) && (g7 === 0 || g7 === 1)) return true; // :: and ::1
    if ((g0 & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
    if ((g0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link local
    if (g.slice(0, 5).every((x) => x === 0) && g5 === 0xffff) {
      return ipv4Private(g6 >> 8, g6 & 0xff); // IPv4-mapped
    }
    return false;
  }
  return false;
}

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
    if (isPrivateHost(url.hostname)) {
      throw new AppError("invalid_request", "loopback, private and link-local upstreams need insecure_upstream: true");
    }
  }
  return url.origin;
}
