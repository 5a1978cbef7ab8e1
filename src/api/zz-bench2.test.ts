import { it } from "vitest";
import { apiHarness, stripeService } from "../test/api-harness.js";
import { IssueNonceRequest } from "./routes/v1_nonces_create.js";

it("bench2", async () => {
  const h = await apiHarness();
  await stripeService(h);
  const time = async (label: string, f: () => unknown) => {
    for (let i = 0; i < 50; i++) await f();
    const t = performance.now();
    for (let i = 0; i < 300; i++) await f();
    console.log(label, ((performance.now() - t) / 300).toFixed(3));
  };
  await time("zod fail", () => IssueNonceRequest.safeParse({ service: "stripe" }));
  await time("new Error", () => new Error("x").stack);
  await time("GET templates", () => h.call("GET", "/v1/templates"));
  await time("GET healthz", () => h.call("GET", "/healthz", { key: null }));
  await time("GET 404", () => h.call("GET", "/v1/nonces/nce_01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  await time("GET nonce bad id (400)", () => h.call("GET", "/v1/nonces/bad"));
  await time("store listNonces", () => h.ctx.store.listNonces({}, { limit: 1 }, 0));
  await h.close();
}, 60000);
