import { describe, expect, it } from "vitest";
import { checkMessage, mcpAllowance } from "./allowance.js";
import { checkBody } from "./request-gate.js";
import { eventEnd, filterEvent, filterJsonText, toolsFilter } from "./tools-filter.js";

/** The JSON-RPC checks and the tools/list filter, byte for byte, without sockets (end to end: e2e/mcp-upstream). */

const allow = mcpAllowance(["tool:search", "tool:fetch"]);
const list = (id: number, names: string[]) =>
  JSON.stringify({ jsonrpc: "2.0", id, result: { tools: names.map((name) => ({ name, inputSchema: {} })) } });
const names = (text: string) =>
  (JSON.parse(text) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name);

describe("which JSON-RPC messages a nonce may send", () => {
  it("tools by name, resources and prompts by scope, unknown methods refused, lifecycle passing", () => {
    const call = (name: unknown) => ({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name } });
    expect(checkMessage(call("search"), allow)).toEqual({ ok: true });
    expect(checkMessage(call("delete_all"), allow)).toEqual({
      denied: { mcp_method: "tools/call", tool: "delete_all" },
    });
    expect(checkMessage(call(7), allow)).toHaveProperty("malformed");
    for (const method of ["initialize", "ping", "tools/list", "notifications/initialized", "notifications/cancelled"]) {
      expect(checkMessage({ jsonrpc: "2.0", id: 2, method }, allow), method).toEqual({ ok: true });
    }
    for (const method of ["resources/list", "resources/read", "prompts/get", "tasks/list", "sampling/createMessage"]) {
      expect(checkMessage({ jsonrpc: "2.0", id: 3, method }, allow), method).toEqual({
        denied: { mcp_method: method },
      });
    }
    const rp = mcpAllowance(["mcp:resources", "mcp:prompts"]);
    expect(checkMessage({ jsonrpc: "2.0", id: 4, method: "resources/read", params: { uri: "x" } }, rp)).toEqual({
      ok: true,
    });
    expect(checkMessage({ jsonrpc: "2.0", id: 5, method: "prompts/list" }, rp)).toEqual({ ok: true });
    expect(checkMessage(call("search"), rp)).toHaveProperty("denied");
    const complete = (type: string) => ({
      jsonrpc: "2.0",
      id: 6,
      method: "completion/complete",
      params: { ref: { type } },
    });
    expect(checkMessage(complete("ref/prompt"), rp)).toEqual({ ok: true });
    expect(checkMessage(complete("ref/prompt"), allow)).toHaveProperty("denied");
    // The agent's answers to the server's own requests (sampling, elicitation) pass.
    expect(checkMessage({ jsonrpc: "2.0", id: 9, result: {} }, allow)).toEqual({ ok: true });
    expect(checkMessage({ jsonrpc: "2.0", id: 9 }, allow)).toHaveProperty("malformed");
    expect(checkMessage(call("anything"), mcpAllowance(["tool:*"]))).toEqual({ ok: true });
  });

  it("a body is refused whole for one bad batch member, for a duplicate key, for non-JSON; names are bounded", () => {
    const body = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));
    const call = (id: number, name: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name } });
    expect(checkBody(body([call(1, "search"), call(2, "fetch")]), allow)).toBeNull();
    expect(checkBody(body([call(1, "search"), call(2, "drop")]), allow)).toMatchObject({
      refuse: "scope_denied",
      audit: { mcp_method: "tools/call", tool: "drop", batch_size: 2 },
    });
    expect(checkBody(body("[]"), allow)).toMatchObject({ refuse: "bad_request" });
    expect(checkBody(body("{not json"), allow)).toMatchObject({ refuse: "bad_request" });
    expect(checkBody(Buffer.from([0x7b, 0xff, 0x7d]), allow)).toMatchObject({ refuse: "bad_request" });
    const dup = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"drop"}}';
    expect(checkBody(body(dup), allow)).toMatchObject({ refuse: "bad_request", message: /duplicate/ });
    const long = checkBody(body(call(1, "x".repeat(5000))), allow);
    expect(String(long?.audit?.tool).length).toBeLessThanOrEqual(129);
    const tokenish = checkBody(body(call(1, `an_${"A".repeat(40)}`)), allow);
    expect(tokenish).toMatchObject({ audit: { tool: "[redacted]" } });
    expect(JSON.stringify(tokenish)).not.toContain("AAAAAAAAAAAAAAAA");
  });
});

describe("the tools/list filter", () => {
  it("JSON: single and batch answers filtered; other messages relayed byte for byte", () => {
    expect(names(filterJsonText(list(1, ["search", "delete_all", "fetch"]), allow) as string)).toEqual([
      "search",
      "fetch",
    ]);
    const batch = `[${list(1, ["delete_all"])},{"jsonrpc":"2.0","id":2,"result":{}}]`;
    expect(JSON.parse(filterJsonText(batch, allow) as string)[0].result.tools).toEqual([]);
    // Unchanged messages are not re-serialised (large integers would be rounded).
    expect(filterJsonText('{"jsonrpc":"2.0","id":1,"result":{"n":12345678901234567890}}', allow)).toBeNull();
    expect(filterJsonText(list(1, ["search"]), allow)).toBeNull();
    expect(filterJsonText("not json", allow)).toBeNull();
    // Duplicate keys: re-serialised from what was parsed and filtered, so the client cannot read another copy.
    const dup = `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search"}]},"result":{"tools":[{"name":"drop"}]}}`;
    expect(names(filterJsonText(dup, allow) as string)).toEqual([]);
  });

  it("SSE: events found across any chunking and any line ending, filtered one by one", () => {
    const two = list(2, ["fetch", "rm"]);
    const at = two.indexOf('"result"');
    const split = [two.slice(0, at), two.slice(at)];
    const events = [
      `id: 1\nevent: message\ndata: ${list(1, ["search", "delete_all"])}\n\n`,
      ": keep-alive comment\r\n\r\n",
      `data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\r\r`,
      // One message over two data lines (joined with a newline, between two JSON tokens).
      `data: ${split[0]}\ndata: ${split[1]}\r\n\r\n`,
    ];
    const stream = Buffer.from(events.join(""));
    for (let size = 1; size <= stream.length; size += size < 8 ? 1 : 13) {
      const t = toolsFilter(allow)(200, { "content-type": "text/event-stream" });
      if (t === null || t === "block") throw new Error("expected a transform");
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(t.push(stream.subarray(i, i + size)));
      out.push(t.end());
      const text = Buffer.concat(out).toString();
      expect(text, `chunk size ${size}`).not.toMatch(/delete_all|"rm"/);
      expect(text).toContain("id: 1\nevent: message\ndata: ");
      expect(text).toContain(": keep-alive comment\r\n\r\n");
      expect(text).toContain("notifications/tools/list_changed");
      expect(text.match(/"name":"(search|fetch)"/g)).toEqual(['"name":"search"', '"name":"fetch"']);
    }
  });

  it("an unterminated last event is still filtered; a CR at a chunk's end waits for its LF", () => {
    expect(eventEnd(Buffer.from("data: x\r"))).toBe(-1);
    expect(eventEnd(Buffer.from("data: x\r\n\r"))).toBe(-1);
    expect(eventEnd(Buffer.from("data: x\n\nrest"))).toBe(9);
    expect(filterEvent(Buffer.from(`data: ${list(1, ["drop"])}`), allow).toString()).not.toContain("drop");
  });

  it("compressed answers are blocked (the gateway asked for identity); other statuses and types still filtered", () => {
    const f = toolsFilter(allow);
    expect(f(200, { "content-type": "application/json", "content-encoding": "gzip" })).toBe("block");
    const t = f(400, { "content-type": "text/plain" });
    if (t === null || t === "block") throw new Error("expected a transform");
    t.push(Buffer.from(list(1, ["drop"])));
    expect(t.end().toString()).not.toContain("drop");
  });
});
