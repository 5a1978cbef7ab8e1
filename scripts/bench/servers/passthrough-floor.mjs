import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, write } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { leanForward } from "./lean-forward.mjs";

/**
 * The physical floor of DESIGN.md's budget, for B4: the lean pass-through (passthrough-lean.mjs) plus one durable
 * append per request before it is forwarded, and nothing else. Each request's record (time, method, path, a
 * request number: a few hundred bytes with its hash) is hash-chained to the one before and appended to a file
 * opened O_APPEND; appends queued in one turn of the event loop go out in one write() (group commit), and a request
 * is forwarded only once the write that holds its record returned: durable against kill -9 (the kernel has it), as
 * Agent Nonce's use is, with no fsync (Vault's file audit device makes the same trade). No checks, no store, no
 * scope, no credential lookup: what Agent Nonce costs above this is the price of everything it checks and records.
 * Usage: passthrough-floor.mjs <upstream origin>
 */

const dir = mkdtempSync(path.join(tmpdir(), "an-floor-"));
const fd = openSync(path.join(dir, "journal"), "a");

let prev = "0".repeat(64);
let n = 0;
let lines = [];
let waiting = [];
let scheduled = false;
let writing = false;

function flush() {
  scheduled = false;
  if (writing || lines.length === 0) return;
  const buf = Buffer.from(lines.join(""));
  const go = waiting;
  lines = [];
  waiting = [];
  writing = true;
  write(fd, buf, 0, buf.length, null, (err) => {
    writing = false;
    for (const f of go) f(err);
    if (lines.length > 0) flush();
  });
}

function append(req, then) {
  n += 1;
  const text = `{"n":${n},"time":${Date.now()},"method":${JSON.stringify(req.method)},"path":${JSON.stringify(req.url)},"prev_hash":"${prev}"}`;
  prev = createHash("sha256").update(text).digest("hex");
  lines.push(`${text.slice(0, -1)},"hash":"${prev}"}\n`);
  waiting.push(then);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

const forward = leanForward(process.argv[2]);
const server = http.createServer((req, res) => {
  append(req, (err) => {
    if (err) {
      res.writeHead(503);
      res.end();
      return;
    }
    forward(req, res);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`READY ${JSON.stringify({ port: server.address().port })}`);
});
process.on("SIGTERM", () =>
  server.close(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }),
);
