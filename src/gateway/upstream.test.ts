import { describe, expect, it } from "vitest";
import { isNonPublicAddress } from "../core/ip-address.js";
import { checkUpstream, originUnchanged } from "./upstream.js";

describe("checkUpstream (SECURITY.md rule 9)", () => {
  it("accepts a public https origin", () => {
    expect(checkUpstream({ upstream: "https://api.stripe.com", insecureUpstream: false })).toEqual({
      origin: "https://api.stripe.com",
      insecure: false,
    });
  });
  it.each([
    "http://api.stripe.com",
    "https://127.0.0.1",
    "https://10.0.0.5",
    "https://192.168.1.1",
    "https://172.16.0.1",
    "https://169.254.169.254",
    "https://[::1]",
    "https://[fd00::1]",
    "https://[::ffff:127.0.0.1]",
    "https://[::ffff:7f00:1]",
    "https://[::127.0.0.1]",
    "https://[64:ff9b::7f00:1]",
    "https://[2002:a00:1::1]",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    "https://localhost",
    "https://metadata.internal",
  ])("refuses %s unless the service is insecure_upstream", (u) => {
    expect(checkUpstream({ upstream: u, insecureUpstream: false })).toHaveProperty("error");
    expect(checkUpstream({ upstream: u, insecureUpstream: true })).toHaveProperty("origin");
  });
  it.each(["ftp://x.example", "https://u:p@api.example", "https://api.example/v1", "https://api.example?x=1", "nope"])(
    "refuses a non-origin upstream %s",
    (u) => {
      expect(checkUpstream({ upstream: u, insecureUpstream: true })).toHaveProperty("error");
    },
  );
  it("classifies addresses", () => {
    expect(isNonPublicAddress("8.8.8.8")).toBe(false);
    expect(isNonPublicAddress("2606:4700::1111")).toBe(false);
    expect(isNonPublicAddress("100.64.0.1")).toBe(true);
    expect(isNonPublicAddress("fe80::1")).toBe(true);
  });
});

describe("originUnchanged (rule 1 backstop)", () => {
  it("holds for canonical paths and fails for anything that moves the origin", () => {
    expect(originUnchanged("https://api.example", "/v1/x?y=1")).toBe(true);
    expect(originUnchanged("https://api.example", "//evil.example/x")).toBe(false);
    expect(originUnchanged("https://api.example", "@evil.example/x")).toBe(false);
    expect(originUnchanged("https://api.example", ".evil.example/x")).toBe(false);
  });
});

describe("guardedLookup (rule 9 at resolve time)", () => {
  it("refuses a name that resolves only to loopback", async () => {
    const { guardedLookup } = await import("./forward.js");
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      guardedLookup("localhost", {}, (e) => resolve(e)),
    );
    expect(err?.code).toBe("EADDRNOTPUBLIC");
  });
  it("passes a public IP literal through", async () => {
    const { guardedLookup } = await import("./forward.js");
    const got = await new Promise<unknown>((resolve) => guardedLookup("8.8.8.8", { all: true }, (_e, a) => resolve(a)));
    expect(got).toEqual([{ address: "8.8.8.8", family: 4 }]);
  });
});
