import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ipv6Groups, isNonPublicAddress, isNonPublicHost, NON_PUBLIC_V4_RANGES } from "./ip-address.js";

/**
 * SECURITY.md rules 9 and 15: every spelling of a private, loopback, link-local or unspecified address, including
 * the IPv6 transition forms that carry one, is non-public. Pure classification: nothing here opens a socket.
 */

const FC = { seed: 0x15, numRuns: 1000 };

const hex = (v4: string) => {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)] as const;
};
const xor = (v4: string) => {
  const [hi, lo] = hex(v4);
  return [(Number.parseInt(hi, 16) ^ 0xffff).toString(16), (Number.parseInt(lo, 16) ^ 0xffff).toString(16)] as const;
};
// The transition forms of one IPv4 address whose class must follow that address's class.
const TEREDO_SERVER = "4136:e378"; // 65.54.227.120, public
const forms = (v4: string): string[] => {
  const [hi, lo] = hex(v4);
  const [xhi, xlo] = xor(v4);
  return [
    `::ffff:${v4}`,
    `::ffff:${hi}:${lo}`,
    `::ffff:0:${v4}`,
    `64:ff9b::${v4}`,
    `64:ff9b::${hi}:${lo}`,
    `2002:${hi}:${lo}::1`,
    `2001:0:${TEREDO_SERVER}:8000:63bf:${xhi}:${xlo}`,
    `2001:4860:1:2::5efe:${v4}`,
    `2001:4860:1:2:200:5efe:${hi}:${lo}`,
  ];
};

describe("isNonPublicAddress", () => {
  it.each([
    ["0.0.0.0"],
    ["0.1.2.3"],
    ["10.0.0.1"],
    ["100.64.0.1"],
    ["100.127.255.255"],
    ["127.0.0.1"],
    ["127.255.255.254"],
    ["169.254.169.254"],
    ["172.16.0.1"],
    ["172.31.255.255"],
    ["192.0.0.8"],
    ["192.0.2.1"],
    ["192.168.1.1"],
    ["198.18.0.1"],
    ["198.19.255.255"],
    ["198.51.100.7"],
    ["203.0.113.9"],
    ["224.0.0.1"],
    ["239.255.255.250"],
    ["240.0.0.1"],
    ["255.255.255.255"],
    // IPv6 proper
    ["::"],
    ["::1"],
    ["0:0:0:0:0:0:0:1"],
    ["fe80::1"],
    ["FE80::1"],
    ["febf::1"],
    ["fec0::1"],
    ["fc00::1"],
    ["fd12:3456::1"],
    ["ff02::1"],
    ["100::1"],
    ["2001:db8::1"],
    ["2001:2::1"],
    ["2001:10::1"],
    ["2001:20::1"],
    ["3fff::1"],
    ["fe80::1%eth0"],
    // transition forms named in SECURITY.md rule 15
    ["::ffff:127.0.0.1"],
    ["::ffff:7f00:1"],
    ["::FFFF:7F00:0001"],
    ["0:0:0:0:0:ffff:7f00:1"],
    ["::ffff:169.254.169.254"],
    ["::ffff:0:10.0.0.1"],
    ["64:ff9b::127.0.0.1"],
    ["64:ff9b::a9fe:a9fe"],
    ["64:ff9b:1::8.8.8.8"],
    ["64:ff9b:1:ffff::1"],
    ["2002:7f00:1::1"],
    ["2002:a00:1::"],
    ["2002:c0a8:101:0:0:0:0:1"],
    ["::127.0.0.1"],
    ["::7f00:1"],
    ["::8.8.8.8"],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe"], // Teredo, client 127.0.0.1 (obfuscated)
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe"], // Teredo, client 10.0.0.1
    ["2001::a00:1:0:0:f7f7:f7f7"], // Teredo, server 10.0.0.1
    ["2001:4860::5efe:10.0.0.1"], // ISATAP, private IPv4 tunnel end
    ["2001:4860::200:5efe:c0a8:101"],
    // not addresses at all
    [""],
    ["localhost"],
    ["127.1"],
    ["1::2:3:4:5:6:7:8"],
  ])("%s is non-public", (ip) => {
    expect(isNonPublicAddress(ip)).toBe(true);
  });

  it.each([
    ["8.8.8.8"],
    ["1.1.1.1"],
    ["9.255.255.255"],
    ["11.0.0.0"],
    ["100.63.255.255"],
    ["100.128.0.0"],
    ["169.253.255.255"],
    ["169.255.0.0"],
    ["172.15.255.255"],
    ["172.32.0.0"],
    ["192.0.1.1"],
    ["192.167.255.255"],
    ["192.169.0.0"],
    ["198.17.255.255"],
    ["198.20.0.0"],
    ["223.255.255.255"],
    ["2606:4700::1111"],
    ["2001:4860:4860::8888"],
    ["2a00:1450::1"],
    ["::ffff:8.8.8.8"],
    ["64:ff9b::8.8.8.8"],
    ["2002:808:808::1"],
    ["2001:0:4136:e378:8000:63bf:f7f7:f7f7"], // Teredo, server and client public
    ["2001:4860::5efe:8.8.8.8"],
    ["2001:db9::1"],
    ["2001:30::1"],
  ])("%s is public", (ip) => {
    expect(isNonPublicAddress(ip)).toBe(false);
  });

  it("property: every transition form of an IPv4 address has that address's class", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const cls = isNonPublicAddress(v4);
        for (const f of forms(v4)) expect([f, isNonPublicAddress(f)]).toEqual([f, cls]);
      }),
      FC,
    );
  });

  it("property: the IPv4 class equals membership in the listed ranges, computed with integer arithmetic", () => {
    const toInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
    const ranges = NON_PUBLIC_V4_RANGES.map(([net, bits]) => [toInt(net), 2 ** (32 - bits)] as const);
    const inRanges = (ip: string) => ranges.some(([start, size]) => toInt(ip) >= start && toInt(ip) < start + size);
    // Biased toward range edges: random addresses rarely land next to a boundary.
    const edges = fc
      .tuple(fc.constantFrom(...ranges), fc.integer({ min: -2, max: 1 }), fc.boolean())
      .map(([[start, size], d, end]) => {
        const n = Math.min(2 ** 32 - 1, Math.max(0, (end ? start + size : start) + d));
        return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
      });
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), edges), (ip) => {
        expect(isNonPublicAddress(ip)).toBe(inRanges(ip));
      }),
      FC,
    );
  });

  it("property: every spelling of an IPv6 address has the same class", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (g) => {
        const full = g.map((x) => x.toString(16).padStart(4, "0")).join(":");
        const upper = full.toUpperCase();
        const short = g.map((x) => x.toString(16)).join(":");
        const dotted = `${g
          .slice(0, 6)
          .map((x) => x.toString(16))
          .join(":")}:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
        expect(ipv6Groups(full)).toEqual(g);
        const cls = isNonPublicAddress(full);
        for (const s of [upper, short, dotted]) expect([s, isNonPublicAddress(s)]).toEqual([s, cls]);
      }),
      FC,
    );
  });
});

describe("isNonPublicHost (URL hostnames)", () => {
  it.each([
    ["[::1]", true],
    ["[::ffff:7f00:1]", true],
    ["[64:ff9b::a00:1]", true],
    ["localhost", true],
    ["LOCALHOST.", true],
    ["app.localhost", true],
    ["metadata.internal", true],
    ["printer.local", true],
    ["127.0.0.1", true],
    ["api.stripe.com", false],
    ["[2606:4700::1111]", false],
    ["8.8.8.8", false],
  ])("%s → %s", (host, want) => {
    expect(isNonPublicHost(host)).toBe(want);
  });
});
