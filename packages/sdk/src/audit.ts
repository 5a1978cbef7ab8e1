import type { Transport } from "./http.js";
import type {
  AuditCheckpointPage,
  AuditEvent,
  AuditListParams,
  AuditPage,
  AuditStreamParams,
  AuditVerifyResult,
  TaskReport,
} from "./types.js";
import { auditFromWire, date, nonceInfoFromWire, type Wire } from "./wire.js";

/** The audit trail: query, follow live, export, verify. */
export class Audit {
  constructor(private readonly t: Transport) {}

  async list(params: AuditListParams = {}): Promise<AuditPage> {
    const w = await this.t.request<Wire>("GET", "/v1/audit", { query: { ...params } });
    return { events: (w.events ?? []).map(auditFromWire), nextCursor: w.next_cursor ?? null };
  }

  /** Every matching event across pages, oldest first. */
  async *iterate(params: Omit<AuditListParams, "cursor"> = {}): AsyncGenerator<AuditEvent, void, undefined> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list({ ...params, ...(cursor ? { cursor } : {}) });
      yield* page.events;
      if (!page.nextCursor || page.nextCursor === cursor) return;
      cursor = page.nextCursor;
    }
  }

  /** Verifies the whole chain and every signed checkpoint (admin, auditor). A broken chain is `ok: false`. */
  async verify(): Promise<AuditVerifyResult> {
    const w = await this.t.request<Wire>("GET", "/v1/audit/verify");
    return {
      ok: w.ok === true,
      events: Number(w.events ?? 0),
      firstBadSeq: typeof w.first_bad_seq === "number" ? w.first_bad_seq : null,
      reason: typeof w.reason === "string" ? w.reason : null,
      checkpoints: Number(w.checkpoints ?? 0),
      untrustedCheckpoints: Number(w.untrusted_checkpoints ?? 0),
      fromSeq: Number(w.from_seq ?? 0),
    };
  }

  async checkpoints(params: { limit?: number; cursor?: string } = {}): Promise<AuditCheckpointPage> {
    const w = await this.t.request<Wire>("GET", "/v1/audit/checkpoints", { query: { ...params } });
    return {
      checkpoints: (w.checkpoints ?? []).map((c: Wire) => ({
        seq: c.seq,
        hash: c.hash,
        time: date(c.time) as Date,
        events: c.events,
        kid: c.kid,
        publicKey: c.public_key,
        jws: c.jws,
        trusted: c.trusted === true,
      })),
      nextCursor: w.next_cursor ?? null,
      signingKey: { kid: w.signing_key?.kid, publicKey: w.signing_key?.public_key },
    };
  }

  /** What happened in one task: its nonces and its events in order (issuers: their own nonces only). */
  async task(task: string, params: { limit?: number; cursor?: string } = {}): Promise<TaskReport> {
    const w = await this.t.request<Wire>("GET", `/v1/tasks/${encodeURIComponent(task)}`, { query: { ...params } });
    return {
      task: w.task,
      nonces: (w.nonces ?? []).map(nonceInfoFromWire),
      events: (w.events ?? []).map(auditFromWire),
      nextCursor: w.next_cursor ?? null,
    };
  }

  /**
   * The whole trail (or a time window) as JSON lines, exactly as the API renders events, so the chain can be
   * re-verified elsewhere. Streams; memory does not grow with the trail (admin, auditor).
   */
  async *exportLines(params: { since?: Date | string; until?: Date | string } = {}): AsyncGenerator<string> {
    const res = await this.t.open("/v1/audit/export", { query: { ...params, format: "jsonl" } });
    for await (const line of lines(res)) if (line.length > 0) yield line;
  }

  /**
   * Live events (server-sent events) matching the filters, from `sinceSeq` (exclusive) or from now. Reconnects
   * with `Last-Event-ID` after a network failure; stop with `signal` or by leaving the `for await` loop.
   */
  async *stream(params: AuditStreamParams = {}): AsyncGenerator<AuditEvent, void, undefined> {
    const { signal, sinceSeq, reconnectMs = 1000, tail, follow = true, ...filters } = params;
    let last: number | undefined = sinceSeq;
    for (;;) {
      const ac = new AbortController();
      const stop = () => ac.abort();
      signal?.addEventListener("abort", stop, { once: true });
      try {
        const query: Record<string, string | number | Date | undefined> = { ...filters };
        if (!follow) query.follow = "false";
        if (tail !== undefined && last === undefined) query.tail = tail;
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (last !== undefined) headers["last-event-id"] = String(last);
        const res = await this.t.open("/v1/audit/stream", { query, headers, signal: ac.signal });
        for await (const ev of sse(res)) {
          if (ev.event !== "audit") continue;
          const e = auditFromWire(JSON.parse(ev.data) as Wire);
          if (e.seq !== null) last = e.seq;
          yield e;
        }
        // The server ends a stream only when asked not to follow (or on shutdown, then we reconnect).
        if (!follow) return;
      } catch (e) {
        if (signal?.aborted) return;
        // Reconnect after network failures and 5xx; anything else (401, 403, 400) is final.
        if ((e as { name?: string }).name === "AgentNonceError") {
          const { code, status } = e as { code?: string; status?: number };
          if (code !== "unavailable" && (status ?? 0) < 500) throw e;
        }
      } finally {
        signal?.removeEventListener("abort", stop);
        ac.abort();
      }
      if (signal?.aborted) return;
      await new Promise((r) => setTimeout(r, reconnectMs));
    }
  }
}

async function* lines(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      yield buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  }
  buf += decoder.decode();
  if (buf.length > 0) yield buf;
}

/** A minimal text/event-stream parser (WHATWG rules for `event`, `data`, `id` and comments). */
async function* sse(res: Response): AsyncGenerator<{ event: string; data: string; id: string | null }> {
  let event = "message";
  let data: string[] = [];
  let id: string | null = null;
  for await (const line of lines(res)) {
    if (line === "") {
      if (data.length > 0) yield { event, data: data.join("\n"), id };
      event = "message";
      data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
}
