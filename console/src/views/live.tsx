import { useEffect, useState } from "preact/hooks";
import { api, errorText, query } from "../api.js";
import { AUDIT_TYPES } from "../audit-types.js";
import { Alert, EventTable, Field, Select, Status } from "../components.js";
import { navigate, useRoute, viewHref } from "../router.js";
import { openAuditStream, type StreamFilter, type StreamState } from "../stream.js";
import type { AuditEvent } from "../types.js";

/** At most this many live rows are kept; older ones are in History (paged). */
const MAX_ROWS = 500;

const STATE_TEXT: Record<StreamState, string> = {
  connecting: "Connecting to the live stream…",
  live: "Live: new events appear as they happen.",
  reconnecting: "Connection lost: reconnecting (no event will be missed)…",
  stopped: "The live stream stopped.",
};

/**
 * "What is live now" and "what was denied and why": the audit stream as it happens, filterable by agent, task,
 * service and type, and the same filters over the stored history, a page at a time.
 */
export function Live() {
  const route = useRoute();
  const filter: StreamFilter = {
    agent: route.params.get("agent") ?? "",
    task: route.params.get("task") ?? "",
    service: route.params.get("service") ?? "",
    type: route.params.get("type") ?? "",
  };
  const filterKey = JSON.stringify(filter);
  const [form, setForm] = useState(filter);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [state, setState] = useState<{ s: StreamState; detail?: string }>({ s: "connecting" });

  useEffect(() => {
    setEvents([]);
    setForm(filter);
    const stop = openAuditStream(filter, {
      onEvent: (e) => setEvents((prev) => [e, ...prev].slice(0, MAX_ROWS)),
      onState: (s, detail) => setState({ s, detail }),
    });
    return stop;
  }, [filterKey]);

  const apply = (e: Event) => {
    e.preventDefault();
    navigate(viewHref("live", form as Record<string, string>));
  };

  return (
    <section aria-labelledby="live-h">
      <h1 id="live-h">Live</h1>
      <form class="filters" onSubmit={apply} aria-label="Filter events">
        <Field id="f-agent" label="Agent" value={form.agent ?? ""} onInput={(v) => setForm({ ...form, agent: v })} />
        <Field id="f-task" label="Task" value={form.task ?? ""} onInput={(v) => setForm({ ...form, task: v })} />
        <Field
          id="f-service"
          label="Service"
          value={form.service ?? ""}
          onInput={(v) => setForm({ ...form, service: v })}
        />
        <Select
          id="f-type"
          label="Type"
          any="Any type"
          value={form.type ?? ""}
          options={AUDIT_TYPES}
          onChange={(v) => setForm({ ...form, type: v })}
        />
        <button type="submit">Apply filters</button>
      </form>
      <Status>
        {STATE_TEXT[state.s]}
        {state.detail ? ` ${state.detail}` : ""}
      </Status>
      <EventTable events={events} caption="Live audit events, newest first" />
      <History filter={filter} key={filterKey} />
    </section>
  );
}

/** The stored trail under the same filters, oldest first, one page at a time (GET /v1/audit). */
function History({ filter }: { filter: StreamFilter }) {
  const [pages, setPages] = useState<AuditEvent[][]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState("");
  const [page, setPage] = useState(0);

  const load = async (from: string | undefined) => {
    setError("");
    try {
      const r = await api<{ events: AuditEvent[]; next_cursor: string | null }>(
        "GET",
        `/v1/audit${query({ ...filter, limit: 50, cursor: from })}`,
      );
      setPages((p) => [...p, r.events]);
      setPage(pages.length);
      setCursor(r.next_cursor);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const shown = pages[page] ?? [];
  return (
    <section aria-labelledby="history-h" class="history">
      <h2 id="history-h">History</h2>
      {cursor === undefined ? (
        <button type="button" class="secondary" onClick={() => load(undefined)}>
          Load history
        </button>
      ) : (
        <>
          <div class="pager">
            <button type="button" class="secondary" disabled={page === 0} onClick={() => setPage(page - 1)}>
              Previous page
            </button>
            <span>Page {page + 1}</span>
            <button
              type="button"
              class="secondary"
              disabled={page === pages.length - 1 && !cursor}
              onClick={() => (page < pages.length - 1 ? setPage(page + 1) : load(cursor ?? undefined))}
            >
              Next page
            </button>
          </div>
          <EventTable events={shown} caption={`Stored audit events, oldest first (page ${page + 1})`} />
        </>
      )}
      <Alert>{error}</Alert>
    </section>
  );
}
