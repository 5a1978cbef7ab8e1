import { describe, expect, it } from "vitest";
import { validateUpstream } from "./upstream.js";

describe("validateUpstream", () => {
  it("normalises a public https origin", () => {
    expect(validateUpstream("https://API.Stripe.com", false)).toBe("https://api.stripe.com");
    expect(validateUpstream("https://api.stripe.com/", false)).toBe("https://api.stripe.com");
    expect(validateUpstream("https://api.example.com:8443", false)).toBe("https://api.example.com:8443");
  });

  it.each([
    "https://api.stripe.com/v1",
    "https://api.stripe.com/?x=1",
    "https://api.stripe.com/?",
    "https://api.stripe.com/#frag",
    "https://user:pw@api.stripe.com",
    "ftp://api.stripe.com",
    "file:///etc/passwd",
    "api.stripe.com",
    "",
  ])("rejects %j even with insecure_upstream", (u) => {
    expect(() => validateUpstream(u, true)).toThrow(expect.objectContaining({ code: "invalid_request" }));
  });

  it.each([
    "http://api.example.com",
    "https://127.0.0.1",
    "https://127.1.2.3:8080",
    "https://0x7f.1",
    "https://10.0.0.1",
    "https://172.16.0.1",
    "https://172.31.255.255",
    "https://192.168.1.1",
    "https://169.254.169.254",
    "https://[::1]",
    "https://[fd00::1]",
    "https://[fe80::1]",
    "https://[::ffff:127.0.0.1]",
    // SECURITY.md rule 15: IPv6 transition forms of private and loopback addresses
    "https://[::ffff:7f00:1]",
    "https://[::127.0.0.1]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://[64:ff9b:1::8.8.8.8]",
    "https://[2002:c0a8:101::1]",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    "https://[2001:db8::1]",
    "https://224.0.0.1",
    "https://metadata.internal",
    "https://localhost",
    "https://app.localhost",
    "https://0.0.0.0",
  ])("needs insecure_upstream for %s", (u) => {
    expect(() => validateUpstream(u, false)).toThrow(/insecure_upstream/);
    expect(() => validateUpstream(u, true)).not.toThrow();
  });

  it("does not treat public neighbours of private ranges as private", () => {
    for (const h of ["172.15.0.1", "172.32.0.1", "192.169.0.1", "11.0.0.1", "[2001:4860::1]", "[2002:808:808::1]"]) {
      expect(validateUpstream(`https://${h}`, false)).toBe(`https://${h}`);
    }
  });
});
