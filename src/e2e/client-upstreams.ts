import type http from "node:http";
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from "../test/fake-upstream.js";

/**
 * Loopback stand-ins for GitHub, Slack and OpenAI that answer the calls the drop-in client tests make, in the
 * vendor's shapes, and record what arrived (via startFakeUpstream). One call per vendor echoes the
 * Authorization header it received, so a test can prove the gateway scrubs the real secret from responses.
 */

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(text);
}

function pathOf(req: RecordedRequest): string {
  const q = req.url.indexOf("?");
  return q === -1 ? req.url : req.url.slice(0, q);
}

export function githubLike(): Promise<FakeUpstream> {
  return startFakeUpstream((req, res) => {
    const path = pathOf(req);
    const gh = { "x-github-media-type": "github.v3; format=json" };
    if (req.method === "GET" && path === "/repos/octo/hello/issues") {
      return json(res, 200, [{ id: 1, number: 1, title: "first", state: "open" }], gh);
    }
    if (req.method === "GET" && path === "/repos/octo/hello/issues/2") {
      return json(res, 200, { id: 2, number: 2, title: `seen: ${req.headers.authorization}`, state: "open" }, gh);
    }
    if (req.method === "GET" && path.startsWith("/repos/octo/hello/contents/")) {
      return json(res, 200, { type: "file", path: path.slice("/repos/octo/hello/contents/".length), content: "" }, gh);
    }
    json(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" }, gh);
  });
}

export function slackLike(): Promise<FakeUpstream> {
  return startFakeUpstream((req, res) => {
    const path = pathOf(req);
    if (req.method === "POST" && path === "/api/chat.postMessage") {
      const form = new URLSearchParams(req.body.toString("utf8"));
      return json(res, 200, {
        ok: true,
        channel: form.get("channel"),
        ts: "1700000000.000100",
        message: { type: "message", text: form.get("text"), bot_id: "B1" },
        seen_authorization: req.headers.authorization,
      });
    }
    // Slack answers unknown methods with HTTP 200 and ok:false.
    json(res, 200, { ok: false, error: "unknown_method" });
  });
}

export interface OpenAiLike extends FakeUpstream {
  /** Resolve to let a streaming completion send the chunks after the first. */
  releaseStream(): void;
  /** True once the streaming completion's response has ended. */
  streamFinished(): boolean;
}

function sse(res: http.ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

function chunk(id: string, content: string | null, finish: string | null = null) {
  return {
    id,
    object: "chat.completion.chunk",
    created: 1700000000,
    model: "gpt-test",
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  };
}

export async function openaiLike(): Promise<OpenAiLike> {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let finished = false;
  const up = await startFakeUpstream(async (req, res) => {
    const path = pathOf(req);
    if (req.method === "POST" && path === "/v1/chat/completions") {
      const body = JSON.parse(req.body.toString("utf8")) as { stream?: boolean };
      if (body.stream) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        sse(res, chunk("chatcmpl-s", "Hel"));
        // The rest waits for the test: a client that sees "Hel" before this resolves got it streamed.
        await released;
        sse(res, chunk("chatcmpl-s", "lo"));
        sse(res, chunk("chatcmpl-s", null, "stop"));
        sse(res, "[DONE]");
        res.end();
        finished = true;
        return;
      }
      return json(res, 200, {
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1700000000,
        model: "gpt-test",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: `seen: ${req.headers.authorization}`, refusal: null },
            finish_reason: "stop",
            logprobs: null,
          },
        ],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    }
    json(res, 404, { error: { message: "not found", type: "invalid_request_error", param: null, code: null } });
  });
  return { ...up, releaseStream: () => release(), streamFinished: () => finished };
}
