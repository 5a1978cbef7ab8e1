import { createParser } from "eventsource-parser";
import { authHeaders, FETCH_DEFAULTS, failure, query } from "./api.js";
import type { AuditEvent } from "./types.js";

/**
 * The live audit stream. EventSource cannot send an Authorization header (and the key must never go in a URL),
 * so the stream is read with fetch and parsed with eventsource-parser. When the connection drops it reconnects
 * with `Last-Event-ID` set to the last seq seen, so no event is missed or shown twice.
 */

export type StreamState = "connecting" | "live" | "reconnecting" | "stopped";

export interface StreamFilter {
  agent?: string;
  task?: string;
  service?: string;
  type?: string;
}

export interface StreamHandlers {
  onEvent(e: AuditEvent): void;
  onState(s: StreamState, detail?: string): void;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];

/** Starts streaming; the returned function stops it. `tail` events of history come first. */
export function openAuditStream(filter: StreamFilter, handlers: StreamHandlers, tail = 50): () => void {
  const abort = new AbortController();
  let lastSeq: string | undefined;
  let attempt = 0;

  const connectOnce = async () => {
    const headers: Record<string, string> = { ...authHeaders(), accept: "text/event-stream" };
    if (lastSeq !== undefined) headers["last-event-id"] = lastSeq;
    const res = await fetch(`/v1/audit/stream${query({ ...filter, tail: lastSeq === undefined ? tail : undefined })}`, {
      ...FETCH_DEFAULTS,
      headers,
      signal: abort.signal,
    });
    if (!res.ok || !res.body) {
      const err = await failure(res);
      // A refused key or role will not get better by retrying.
      if (res.status === 401 || res.status === 403 || res.status === 400) throw Object.assign(err, { fatal: true });
      throw err;
    }
    handlers.onState("live");
    attempt = 0;
    const parser = createParser({
      onEvent(msg) {
        if (msg.event !== "audit") return;
        if (msg.id) lastSeq = msg.id;
        handlers.onEvent(JSON.parse(msg.data) as AuditEvent);
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  };

  void (async () => {
    handlers.onState("connecting");
    while (!abort.signal.aborted) {
      try {
        await connectOnce();
      } catch (e) {
        if (abort.signal.aborted) break;
        if ((e as { fatal?: boolean }).fatal) {
          handlers.onState("stopped", (e as Error).message);
          return;
        }
      }
      if (abort.signal.aborted) break;
      handlers.onState("reconnecting");
      const wait = BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)];
      await new Promise((r) => setTimeout(r, wait));
    }
    handlers.onState("stopped");
  })();

  return () => abort.abort();
}
