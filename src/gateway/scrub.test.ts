import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildNeedles, headerLeaks, REDACTION_MARKER, Scrubber } from "./scrub.js";

const secret = `sk_test_FAKE_${randomBytes(12).toString("hex")}`;
const needles = buildNeedles([Buffer.from(secret)]);

/** Feeds `text` in pieces cut at `cuts` and returns what the scrubber let through. */
function run(text: string | Buffer, cuts: number[], n = needles): { out: string; found: number } {
  const data = typeof text === "string" ? Buffer.from(text) : text;
  const s = new Scrubber(n);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    parts.push(s.push(data.subarray(prev, c)));
    prev = c;
  }
  parts.push(s.end());
  return { out: Buffer.concat(parts).toString(), found: s.found };
}

describe("Scrubber (SECURITY.md rule 7)", () => {
  it("redacts the raw secret", () => {
    const r = run(`{"echo":"Bearer ${secret}"}`, []);
    expect(r.out).toBe(`{"echo":"Bearer ${REDACTION_MARKER}"}`);
    expect(r.found).toBe(1);
  });

  it("redacts across every chunk boundary", () => {
    const text = `xx${secret}yy${secret}`;
    for (let cut = 0; cut <= text.length; cut++) {
      const r = run(text, [cut]);
      expect(r.out).toBe(`xx${REDACTION_MARKER}yy${REDACTION_MARKER}`);
    }
  });

  it("redacts when the body arrives one byte at a time", () => {
    const text = `a${secret}b`;
    const cuts = Array.from({ length: text.length }, (_, i) => i + 1);
    expect(run(text, cuts).out).toBe(`a${REDACTION_MARKER}b`);
  });

  it("redacts base64 at any alignment, standard and URL-safe", () => {
    for (const prefix of ["", "B", "Be", "Bearer "]) {
      const std = Buffer.from(`${prefix}${secret}`).toString("base64");
      expect(run(std, [7]).out).not.toContain(std.slice(4, -4));
      expect(run(std, [7]).found).toBe(1);
      const url = Buffer.from(`${prefix}${secret}?>`).toString("base64url");
      expect(run(url, []).found).toBe(1);
    }
  });

  it("redacts the percent-encoded and JSON-escaped forms of a secret with special characters", () => {
    const odd = 'p@ss/w:rd+"quoted"';
    const n = buildNeedles([Buffer.from(odd)]);
    expect(run(`q=${encodeURIComponent(odd)}`, [5], n).found).toBe(1);
    expect(run(JSON.stringify({ v: odd }), [3], n).found).toBe(1);
  });

  it("passes text without the secret through unchanged and holds nothing back at a text boundary", () => {
    const s = new Scrubber(needles);
    const event = Buffer.from('data: {"ok":true}\n\n');
    expect(s.push(event).toString()).toBe(event.toString());
    // a chunk ending in a prefix of the secret is held back until the next chunk decides
    expect(s.push(Buffer.from(`x ${secret.slice(0, 5)}`)).toString()).toBe("x ");
    expect(s.push(Buffer.from("not-it")).toString()).toBe(`${secret.slice(0, 5)}not-it`);
    expect(s.end().length).toBe(0);
  });

  it("works on random binary data with secrets at random places", () => {
    for (let i = 0; i < 50; i++) {
      const a = randomBytes(Math.floor(Math.random() * 300));
      const b = randomBytes(Math.floor(Math.random() * 300));
      const data = Buffer.concat([a, Buffer.from(secret), b]);
      const cuts = [Math.floor(Math.random() * data.length)].sort((x, y) => x - y);
      const r = run(data, cuts);
      expect(r.out.includes(secret)).toBe(false);
      expect(r.found).toBeGreaterThanOrEqual(1);
    }
  });

  it("detects the secret in header values", () => {
    expect(headerLeaks(`https://other.example/?key=${secret}`, needles)).toBe(true);
    expect(headerLeaks(`Basic ${Buffer.from(`u:${secret}`).toString("base64")}`, needles)).toBe(true);
    expect(headerLeaks("application/json", needles)).toBe(false);
  });
});
