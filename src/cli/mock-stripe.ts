import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The demo's stand-in for api.stripe.com: a loopback node:http server answering `GET /v1/customers` with a
 * Stripe-shaped list, and recording what each request carried so the demo can show what the upstream saw.
 */

export interface MockRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  /** Every header value as received, to check that no nonce ever reached the upstream. */
  rawHeaders: string[];
}

export interface MockStripe {
  url: string;
  requests: MockRequest[];
  close(): Promise<void>;
}

function customers(limit: number): unknown {
  const names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"];
  const data = names.slice(0, Math.max(1, Math.min(limit, names.length))).map((name, i) => ({
    id: `cus_demo${i + 1}`,
    object: "customer",
    name,
    email: `${name.split(" ")[0]?.toLowerCase()}@example.test`,
  }));
  return { object: "list", url: "/v1/customers", has_more: false, data };
}

export async function startMockStripe(): Promise<MockStripe> {
  const requests: MockRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://mock");
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      authorization: req.headers.authorization,
      rawHeaders: req.rawHeaders,
    });
    req.resume();
    req.on("end", () => {
      let status = 200;
      let body: unknown;
      if (req.method === "GET" && url.pathname === "/v1/customers") {
        body = customers(Number(url.searchParams.get("limit") ?? 10) || 10);
      } else if (req.method === "POST" && url.pathname === "/v1/customers") {
        body = { id: "cus_new", object: "customer" };
      } else {
        status = 404;
        body = { error: { type: "invalid_request_error", message: "Unrecognized request URL" } };
      }
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
