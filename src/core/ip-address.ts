import { BlockList, isIP } from "node:net";

/**
 * SECURITY.md rules 9 and 15: which addresses are not on the public internet. One classifier for both places
 * that ask: a literal upstream host when a service is written (app/upstream.ts, gateway/upstream.ts) and every
 * address a name resolves to when the gateway connects (gateway/forward.ts `guardedLookup`).
 *
 * IPv6 transition forms carry an IPv4 address that the host's stack, a NAT64 gateway or a tunnel will actually
 * reach, so they are classified by the IPv4 address inside them: IPv4-mapped (`::ffff:a.b.c.d`), SIIT
 * (`::ffff:0:a.b.c.d`), NAT64 well-known prefix (`64:ff9b::/96`), 6to4 (`2002:AABB:CCDD::/48`), Teredo
 * (`2001:0::/32`, server and XOR-obfuscated client) and ISATAP interface ids (`…:0:5efe:a.b.c.d`). Deprecated or
 * local-only forms whose target cannot be told (IPv4-compatible `::/96`, local-use NAT64 `64:ff9b:1::/48`) count
 * as non-public whatever they embed. Anything that does not parse as an address counts as non-public.
 */

// IPv4 special-purpose ranges that are not globally reachable (IANA registry), plus multicast and reserved.
const V4_NON_PUBLIC: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local (cloud metadata lives here)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // TEST-NET-1
  ["192.88.99.0", 24], // deprecated 6to4 relay anycast
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // TEST-NET-2
  ["203.0.113.0", 24], // TEST-NET-3
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
];

const v4Blocked = new BlockList();
for (const [net, bits] of V4_NON_PUBLIC) v4Blocked.addSubnet(net, bits, "ipv4");

/** The IPv4 ranges above, exported for tests that cross-check the classifier against an independent list. */
export const NON_PUBLIC_V4_RANGES = V4_NON_PUBLIC;

function v4NonPublic(ip: string): boolean {
  return v4Blocked.check(ip, "ipv4");
}

function v4FromGroups(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/**
 * The eight 16-bit groups of an IPv6 literal (no brackets), or null. The WHATWG URL parser normalises it first
 * (embedded dotted IPv4 becomes hex, case and zero-compression are settled), so only one spelling is parsed here.
 * A zone id (`fe80::1%eth0`) does not survive the URL parser and yields null.
 */
export function ipv6Groups(ip: string): number[] | null {
  let host: string;
  try {
    host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head = "", tail] = host.split("::");
  const a = head === "" ? [] : head.split(":");
  const b = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? 0 : 8 - a.length - b.length;
  const groups = [...a, ...Array<string>(Math.max(fill, 0)).fill("0"), ...b].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

function v6NonPublic(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  // ::/96 holds ::, ::1 and the deprecated IPv4-compatible form: none of it is a public destination.
  if (zeroTo(6)) return true;
  if (zeroTo(5) && g5 === 0xffff) return v4NonPublic(v4FromGroups(g6, g7)); // IPv4-mapped
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return v4NonPublic(v4FromGroups(g6, g7)); // SIIT
  if (g0 === 0x64 && g1 === 0xff9b) {
    if (g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4NonPublic(v4FromGroups(g6, g7)); // NAT64 /96
    return true; // 64:ff9b:1::/48 local-use NAT64 (and the rest of 64:ff9b::/32, unassigned)
  }
  if (g0 === 0x2002) return v4NonPublic(v4FromGroups(g1, g2)); // 6to4
  if (g0 === 0x2001 && g1 === 0) {
    // Teredo: server IPv4 in groups 2-3, client IPv4 XOR 0xffffffff in groups 6-7.
    return v4NonPublic(v4FromGroups(g2, g3)) || v4NonPublic(v4FromGroups(g6 ^ 0xffff, g7 ^ 0xffff));
  }
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return true; // 100::/64 discard-only
  if (g0 === 0x2001) {
    const orchid = (g1 & 0xfff0) === 0x0010 || (g1 & 0xfff0) === 0x0020; // ORCHID, ORCHIDv2 (/28 each)
    if (g1 === 0x0db8 || (g1 === 0x0002 && g2 === 0) || orchid) return true; // + documentation, benchmarking
  }
  if (g0 === 0x3fff && (g1 & 0xf000) === 0) return true; // 3fff::/20 documentation
  if ((g0 & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0) return true; // link-local, deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return true; // multicast
  // ISATAP interface id (RFC 5214): the embedded IPv4 address is the tunnel's far end.
  if ((g4 & 0xfcff) === 0 && g5 === 0x5efe) return v4NonPublic(v4FromGroups(g6, g7));
  return false;
}

/** True unless `ip` is an address on the public internet. Non-addresses are non-public (fail closed). */
export function isNonPublicAddress(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return v4NonPublic(ip);
  if (kind !== 6) return true;
  const g = ipv6Groups(ip);
  return g === null || v6NonPublic(g);
}

/** Names that only ever mean this host or a private network. */
function isLocalName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost") || h.endsWith(".internal") || h.endsWith(".local");
}

/**
 * For a URL's `hostname` (IPv6 in brackets): an IP literal is classified by `isNonPublicAddress`, a name only by
 * its suffix (a public name resolving to a private address is caught at connect time by the gateway).
 */
export function isNonPublicHost(hostname: string): boolean {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(host) !== 0 ? isNonPublicAddress(host) : isLocalName(host);
}
