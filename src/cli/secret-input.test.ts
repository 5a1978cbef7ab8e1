import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { fakeIo } from "./fake-io.js";
import type { In } from "./io.js";
import { readSecret, stripOneNewline } from "./secret-input.js";

describe("stripOneNewline", () => {
  it("removes exactly one trailing newline (LF or CRLF)", () => {
    expect(stripOneNewline("abc\n")).toBe("abc");
    expect(stripOneNewline("abc\r\n")).toBe("abc");
    expect(stripOneNewline("abc\n\n")).toBe("abc\n");
    expect(stripOneNewline("abc")).toBe("abc");
    expect(stripOneNewline(" abc \n")).toBe(" abc ");
  });
});

describe("readSecret", () => {
  it("reads all of piped stdin, across chunks, minus one trailing newline", async () => {
    const stdin = Readable.from([Buffer.from("-----BEGIN KEY-----\nAB"), Buffer.from("CD\n-----END KEY-----\n")]);
    const io = fakeIo({ stdin: stdin as unknown as In });
    expect(await readSecret(io, { prompt: "" })).toBe("-----BEGIN KEY-----\nABCD\n-----END KEY-----");
  });

  it("reads a one-line secret", async () => {
    expect(await readSecret(fakeIo({ stdin: "sk_test_FAKE_1\n" }), { prompt: "" })).toBe("sk_test_FAKE_1");
  });

  it("reads --from-env from the given environment, not from stdin", async () => {
    const io = fakeIo({ env: { MY_KEY: "sk_test_FAKE_env" }, stdin: "from-stdin\n" });
    expect(await readSecret(io, { fromEnv: "MY_KEY", prompt: "" })).toBe("sk_test_FAKE_env");
  });

  it("refuses a missing variable or an empty secret", async () => {
    await expect(readSecret(fakeIo({ env: {} }), { fromEnv: "NOPE", prompt: "" })).rejects.toThrow(/NOPE is not set/);
    await expect(readSecret(fakeIo({ stdin: "\n" }), { prompt: "" })).rejects.toThrow(/empty/);
    await expect(readSecret(fakeIo({ stdin: "" }), { prompt: "" })).rejects.toThrow(/empty/);
  });

  it("on a terminal, reads one line in raw mode without echoing it", async () => {
    const modes: boolean[] = [];
    const tty = Object.assign(Readable.from([Buffer.from("sk_tes"), Buffer.from("t_FAKE_x\x7fy\rignored")]), {
      isTTY: true,
      setRawMode: (m: boolean) => modes.push(m),
    });
    const io = fakeIo({ stdin: tty as unknown as In });
    expect(await readSecret(io, { prompt: "secret for stripe: " })).toBe("sk_test_FAKE_y");
    expect(modes).toEqual([true, false]);
    expect(io.err()).toBe("secret for stripe: \n");
    expect(io.out()).toBe("");
  });
});
