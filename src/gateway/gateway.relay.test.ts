import { afterEach, describe, expect, it } from "vitest";
import type { FakeUpstreamHandler } from "../test/fake-upstream.js";
import { type Harness, startHarness } from "../test/gateway-harness.js";

/** The response relay (respond.ts): what reaches the agent for each kind of upstream answer. */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(handler: FakeUpstreamHandler) {
  h = await startHarness({ handler });
  const { token, id } = await h.issue(["* /**"]);
  return { h, token, id, auth: { authorization: `Bearer ${token}` } };
}

describe("relay", () => {
  it("an informational 103 before the answer is not relayed; the final answer is", async () => {
    const { h, auth } = await setup((_req, res) => {
      res.writeEarlyHints({ link: "</style.css>; rel=preload" });
      res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
      res.end("ok");
    });
    const r = await h.request("/v1/x", { headers: auth });
    expect(r.status).toBe(200);
    expect(r.text).toBe("ok");
  });

  it.each([204, 304])("%i is relayed without a body", async (status) => {
    const { h, auth, id } = await setup((_req, res) => {
      res.writeHead(status, { etag: '"v1"' });
      res.end();
    });
    const r = await h.request("/v1/x", { headers: auth });
    expect(r.status).toBe(status);
    expect(r.headers.etag).toBe('"v1"');
    expect(r.text).toBe("");
    await expect
      .poll(async () => (await h.ctx.store.listAudit({ type: "nonce.completed", nonceId: id }, { limit: 5 })).items)
      .toHaveLength(1);
  });

  it("HEAD keeps the upstream's Content-Length and sends no body", async () => {
    const { h, auth } = await setup((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1234" });
      res.end();
    });
    const r = await h.request("/v1/x", { method: "HEAD", headers: auth });
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBe("1234");
    expect(r.text).toBe("");
  });

  it("repeated response headers (Set-Cookie) are relayed as separate headers", async () => {
    const { h, auth } = await setup((_req, res) => {
      res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"]);
      res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
      res.end("ok");
    });
    const r = await h.request("/v1/x", { headers: auth });
    expect(r.headers["set-cookie"]).toEqual(["a=1; Path=/", "b=2; Path=/"]);
  });

  it("an empty body with Content-Length: 0 is answered with Content-Length: 0", async () => {
    const { h, auth } = await setup((_req, res) => {
      res.writeHead(201, { "content-length": "0" });
      res.end();
    });
    const r = await h.request("/v1/x", { method: "POST", headers: auth, body: "{}" });
    expect(r.status).toBe(201);
    expect(r.headers["content-length"]).toBe("0");
    expect(r.text).toBe("");
  });

  it("many answers on one keep-alive upstream connection stay in order and whole", async () => {
    const { h, auth } = await setup((req, res) => {
      const body = `answer for ${req.url}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
      res.end(body);
    });
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => h.request(`/v1/item/${i}`, { headers: auth })));
    rs.forEach((r, i) => {
      expect(r.text).toBe(`answer for /v1/item/${i}`);
    });
  });
});
