import { useEffect, useState } from "preact/hooks";
import { api, errorText, query } from "../api.js";
import { Alert, details, Field, NonceStatusCells, outcome, requestText, Time } from "../components.js";
import { navigate, useRoute, viewHref } from "../router.js";
import type { AuditEvent, NonceView } from "../types.js";

interface TaskReport {
  task: string;
  nonces: NonceView[];
  nonces_truncated: boolean;
  events: AuditEvent[];
  next_cursor: string | null;
}

const LABEL: Record<string, string> = {
  issued: "Issued",
  used: "Used",
  denied: "Denied",
  revoked: "Revoked",
  other: "Event",
};

/** "What did agent X do in task Y": one task's nonces and its timeline (issued → used → denied → revoked). */
export function Tasks() {
  const route = useRoute();
  const task = route.params.get("task") ?? "";
  const [input, setInput] = useState(task);
  const [report, setReport] = useState<TaskReport | null>(null);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [error, setError] = useState("");

  useEffect(() => {
    setInput(task);
    setReport(null);
    setEvents([]);
    setError("");
    if (!task) return;
    api<TaskReport>("GET", `/v1/tasks/${encodeURIComponent(task)}${query({ limit: 100 })}`)
      .then((r) => {
        setReport(r);
        setEvents(r.events);
      })
      .catch((e) => setError(errorText(e)));
  }, [task]);

  const more = async () => {
    if (!report?.next_cursor) return;
    try {
      const r = await api<TaskReport>(
        "GET",
        `/v1/tasks/${encodeURIComponent(task)}${query({ limit: 100, cursor: report.next_cursor })}`,
      );
      setEvents((prev) => [...prev, ...r.events]);
      setReport({ ...report, next_cursor: r.next_cursor });
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="tasks-h">
      <h1 id="tasks-h">Tasks</h1>
      <form
        class="filters"
        aria-label="Find a task"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(viewHref("tasks", { task: input.trim() }));
        }}
      >
        <Field id="task-id" label="Task" value={input} onInput={setInput} placeholder="e.g. sync-42" />
        <button type="submit">Show timeline</button>
      </form>
      <Alert>{error}</Alert>
      {report && (
        <>
          <h2>Nonces in task {report.task}</h2>
          <div class="table-wrap">
            <table>
              <caption>Nonces issued for task {report.task}, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Nonce</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Service</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Status</th>
                  <th scope="col">Uses</th>
                  <th scope="col">Issued</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {report.nonces.map((n) => (
                  <tr key={n.id}>
                    <td class="mono">{n.id}</td>
                    <td>{n.agent}</td>
                    <td>{n.service}</td>
                    <td>{n.scopes.join(", ")}</td>
                    <NonceStatusCells n={n} />
                    <td>
                      <Time iso={n.created_at} />
                    </td>
                    <td>
                      <Time iso={n.expires_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {report.nonces_truncated && <p class="muted">Only the first 1000 nonces are shown.</p>}
          </div>
          <h2>Timeline</h2>
          {events.length === 0 ? (
            <p class="muted">No events for this task.</p>
          ) : (
            <ol class="timeline" aria-label={`Timeline of task ${report.task}`}>
              {events.map((e) => (
                <li key={e.seq} class={`tl tl-${outcome(e.type)}`}>
                  <Time iso={e.time} />
                  <span class={`badge badge-${outcome(e.type)}`}>{LABEL[outcome(e.type)]}</span>
                  <span class="mono">{e.type}</span>
                  {e.agent && <span>agent {e.agent}</span>}
                  {e.service && <span>{e.service}</span>}
                  {requestText(e) && <span class="mono">{requestText(e)}</span>}
                  {e.reason && <span class="reason">reason: {e.reason}</span>}
                  {e.nonce_id && <span class="mono muted">{e.nonce_id}</span>}
                  {details(e) && <span class="mono muted">{details(e)}</span>}
                </li>
              ))}
            </ol>
          )}
          {report.next_cursor && (
            <button type="button" class="secondary" onClick={more}>
              Load more events
            </button>
          )}
        </>
      )}
    </section>
  );
}
