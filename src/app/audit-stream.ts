import { publicEvent } from "../core/audit-chain.js";
import { auditCursor } from "../store/rows.js";
import type { AuditFilter, AuditStore } from "../store/store.js";
import type { Caller } from "./audit-draft.js";
import { queryAudit } from "./audit-query.js";
import type { AuditRuntime } from "./audit-runtime.js";
import type { AppContext } from "./context.js";

/**
 * A live audit stream as server-sent events. Pull-based: the next page is read from the store only when the
 * client has taken the previous chunk, so a slow client holds no more than one page (backpressure), and every
 * page goes through the same filtered, issuer-scoped query as GET /v1/audit. New events wake the stream through
 * the AuditFeed (this process) or its poll (other replicas); a comment line goes out as a heartbeat when idle.
 */

const PAGE = 500;

export interface StreamOptions {
  filter: Omit<AuditFilter, "issuedBy">;
  /** Resume after this seq (Last-Event-ID / since_seq); otherwise `tail` events back, or from now. */
  afterSeq?: number | undefined;
  tail?: number | undefined;
  follow: boolean;
}

export async function openAuditStream(
  ctx: AppContext<AuditStore>,
  audit: AuditRuntime,
  caller: Caller,
  o: StreamOptions,
): Promise<ReadableStream<Uint8Array>> {
  // Fails with 403/400 before any byte of the stream is sent.
  await queryAudit(ctx, caller, o.filter, { limit: 1 });
  const head = (await ctx.store.auditHead()).seq;
  let after = o.afterSeq ?? Math.max(0, head - (o.tail ?? 0));
  const encoder = new TextEncoder();
  let closed = false;
  let wake: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let pending = true;
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | null = null;

  const unsubscribe = audit.feed.subscribe(() => {
    pending = true;
    wake?.();
  });
  const cleanup = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    audit.streams.delete(end);
    if (timer) clearTimeout(timer);
    wake?.();
  };
  // Shutdown: end the response so the listener can close.
  const end = () => {
    const c = controllerRef;
    cleanup();
    try {
      c?.close();
    } catch {
      // already closed or cancelled
    }
  };
  audit.streams.add(end);

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controllerRef = controller;
        controller.enqueue(encoder.encode(`retry: 1000\n: ready ${after}\n\n`));
      },
      async pull(controller) {
        for (;;) {
          if (closed) return;
          if (pending) {
            pending = false;
            const position = audit.feed.position;
            const page = await queryAudit(ctx, caller, o.filter, {
              limit: PAGE,
              cursor: auditCursor.encode(after),
            });
            if (closed) return;
            if (page.items.length > 0) {
              const text = page.items
                .map((e) => `id: ${e.seq}\nevent: audit\ndata: ${JSON.stringify(publicEvent(e))}\n\n`)
                .join("");
              after = (page.items[page.items.length - 1] as { seq: number }).seq;
              if (page.nextCursor !== null) pending = true;
              controller.enqueue(encoder.encode(text));
              return;
            }
            // Nothing matched up to the feed's position: skip past it (every seq up to it is committed).
            after = Math.max(after, position);
          }
          if (!o.follow) {
            end();
            return;
          }
          // Woken while the query ran: look again before sleeping.
          if (pending) continue;
          const heartbeat = await new Promise<boolean>((resolve) => {
            wake = () => resolve(false);
            timer = setTimeout(() => resolve(true), ctx.config.audit.heartbeatMs);
          });
          wake = null;
          if (timer) clearTimeout(timer);
          timer = null;
          if (heartbeat && !closed) {
            controller.enqueue(encoder.encode(": heartbeat\n\n"));
            return;
          }
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: 0 },
  );
}
