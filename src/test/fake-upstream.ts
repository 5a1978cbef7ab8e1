import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real upstream for end-to-end tests: a node:http server on 127.0.0.1:0 that records every request it
 * received exactly as it arrived (method, raw target, headers incl. the raw header list, body bytes) and answers
 * with a configurable handler. Tests assert on `requests` (e.g. "a rejected request never reached the upstream").
 */

export interface RecordedRequest {
  method: string;
  /** The raw request target as received (path + query, or whatever the client sent). */
  url: string;
  /** Parsed headers (lower-case names, node's merging rules). */
  headers: http.IncomingHttpHeaders;
  /** The raw header list as received: [name, value, name, value, ...] with original case and order. */
  rawHeaders: string[];
  body: Buffer;
}

export type FakeUpstreamHandler = (
  req: RecordedRequest,
  res: http.ServerResponse,
  raw: http.IncomingMessage,
) => void | Promise<void>;

export interface FakeUpstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const echo: FakeUpstreamHandler = (req, res) => {
  const q = req.url.indexOf("?");
  const body = JSON.stringify({ method: req.method, path: q === -1 ? req.url : req.url.slice(0, q) });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
};

/**
 * Starts the fake upstream. The handler runs after the whole request body has been read, unless it is
 * `streaming`: then it runs as soon as headers arrive and gets the raw IncomingMessage to read (or not) itself;
 * the recorded body is then whatever was read before the request ended.
 */
export async function startFakeUpstream(
  handler: FakeUpstreamHandler = echo,
  opts: { streaming?: boolean } = {},
): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((raw, res) => {
    const rec: RecordedRequest = {
      method: raw.method ?? "",
      url: raw.url ?? "",
      headers: raw.headers,
      rawHeaders: raw.rawHeaders,
      body: Buffer.alloc(0),
    };
    requests.push(rec);
    const fail = (e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`fake upstream handler failed: ${e instanceof Error ? e.message : String(e)}`);
    };
    const run = () => {
      try {
        Promise.resolve(handler(rec, res, raw)).catch(fail);
      } catch (e) {
        fail(e);
      }
    };
    const chunks: Buffer[] = [];
    raw.on("data", (c: Buffer) => {
      chunks.push(c);
      rec.body = Buffer.concat(chunks);
    });
    raw.on("error", () => {});
    res.on("error", () => {});
    if (opts.streaming) run();
    else raw.on("end", run);
  });
  server.on("clientError", (_e, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
