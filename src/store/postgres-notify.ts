import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A change feed between replicas sharing one PostgreSQL database: `LISTEN`/`NOTIFY` on one dedicated connection.
 * Each process tags what it publishes with a random origin and ignores its own. Notifications are hints for cache
 * invalidation only, never the truth (revocation, expiry and use counts are always read from the store), so a
 * lost one costs at most the caches' 1 s time bound: while the connection is down publishing is a no-op, and
 * after every (re)connect `onResync` runs so the caller can drop everything it cached while deaf.
 */
export interface ChangeFeed {
  publish(event: string, arg: string): void;
  /** True while LISTEN is active (for tests and metrics). */
  readonly listening: boolean;
  close(): Promise<void>;
}

export interface ChangeFeedOptions {
  connectionString: string;
  onChange(event: string, arg: string): void;
  onResync(): void;
  onError?(message: string): void;
  channel?: string;
}

export const CHANGE_CHANNEL = "agent_nonce_changes";
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
// NOTIFY payloads are limited to 8000 bytes; ours are an event name and an id or a service name.
const MAX_PAYLOAD = 4_000;

export function startChangeFeed(opts: ChangeFeedOptions): ChangeFeed {
  const channel = opts.channel ?? CHANGE_CHANNEL;
  const origin = randomBytes(8).toString("hex");
  let client: pg.Client | null = null;
  let ready = false;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let timer: NodeJS.Timeout | null = null;

  const reconnectLater = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, retryMs);
    timer.unref();
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  };

  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = null;
    ready = false;
    c.end().catch(() => {});
    reconnectLater();
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      connectionString: opts.connectionString,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    client = c;
    c.on("error", (e) => {
      opts.onError?.(e.message);
      lost(c);
    });
    c.on("end", () => lost(c));
    c.on("notification", (n) => {
      if (n.channel !== channel || !n.payload) return;
      let msg: { o?: unknown; e?: unknown; a?: unknown };
      try {
        msg = JSON.parse(n.payload) as typeof msg;
      } catch {
        return;
      }
      if (msg.o === origin || typeof msg.e !== "string" || typeof msg.a !== "string") return;
      opts.onChange(msg.e, msg.a);
    });
    try {
      await c.connect();
      // The channel is a constant identifier, never a value from outside.
      await c.query(`LISTEN ${channel}`);
      if (client !== c || closed) return;
      ready = true;
      retryMs = RETRY_MIN_MS;
      opts.onResync();
    } catch (e) {
      opts.onError?.((e as Error).message);
      lost(c);
    }
  }
  void connect();

  return {
    get listening() {
      return ready;
    },
    publish(event, arg) {
      const c = client;
      if (!ready || !c) return;
      const payload = JSON.stringify({ o: origin, e: event, a: arg });
      if (payload.length > MAX_PAYLOAD) return;
      c.query("SELECT pg_notify($1, $2)", [channel, payload]).catch(() => {});
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      ready = false;
      await c?.end().catch(() => {});
    },
  };
}
