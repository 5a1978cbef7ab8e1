import { useState } from "preact/hooks";
import { api, errorText, query } from "../api.js";
import { Alert, Field, NonceStatusCells, Select, Status, TaskLink, Time } from "../components.js";
import { useCursorList } from "../paging.js";
import { mayRevoke } from "../roles.js";
import type { NonceView, Whoami } from "../types.js";

const STATUSES = ["active", "expired", "revoked", "exhausted"] as const;

interface Filter {
  agent: string;
  task: string;
  service: string;
  status: string;
}

/**
 * "What is live now" and "kill everything for agent X or task Y now": nonces (active by default), a Revoke button
 * per row, and revoke-by-task/agent. Revoking is offered to admins and issuers only.
 */
export function Nonces({ me }: { me: Whoami }) {
  const [form, setForm] = useState<Filter>({ agent: "", task: "", service: "", status: "active" });
  const [filter, setFilter] = useState(form);
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const [reload, setReload] = useState(0);
  const canRevoke = mayRevoke(me.role);

  const {
    items: nonces,
    cursor,
    more,
  } = useCursorList(
    (from) => `/v1/nonces${query({ ...filter, limit: 50, cursor: from })}`,
    (w: { nonces: NonceView[]; next_cursor: string | null }) => w.nonces,
    [filter, reload],
    setError,
  );

  const revoke = async (id: string) => {
    setError("");
    try {
      await api("DELETE", `/v1/nonces/${encodeURIComponent(id)}`);
      setMessage(`Revoked ${id}.`);
      setReload((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="nonces-h">
      <h1 id="nonces-h">Nonces</h1>
      {canRevoke && (
        <RevokeMatching
          onDone={(msg) => {
            setMessage(msg);
            setReload((n) => n + 1);
          }}
        />
      )}
      <h2>Find nonces</h2>
      <form
        class="filters"
        aria-label="Filter nonces"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ ...form });
        }}
      >
        <Field id="n-agent" label="Agent" value={form.agent} onInput={(v) => setForm({ ...form, agent: v })} />
        <Field id="n-task" label="Task" value={form.task} onInput={(v) => setForm({ ...form, task: v })} />
        <Field id="n-service" label="Service" value={form.service} onInput={(v) => setForm({ ...form, service: v })} />
        <Select
          id="n-status"
          label="Status"
          any="Any status"
          value={form.status}
          options={STATUSES}
          onChange={(v) => setForm({ ...form, status: v })}
        />
        <button type="submit">Search</button>
      </form>
      {message && <Status>{message}</Status>}
      <Alert>{error}</Alert>
      <div class="table-wrap">
        <table>
          <caption>Nonces{filter.status ? ` (${filter.status})` : ""}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Nonce</th>
              <th scope="col">Agent</th>
              <th scope="col">Task</th>
              <th scope="col">Service</th>
              <th scope="col">Scopes</th>
              <th scope="col">Status</th>
              <th scope="col">Uses</th>
              <th scope="col">Expires</th>
              {canRevoke && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {nonces.map((n) => (
              <tr key={n.id} data-nonce={n.id}>
                <td class="mono" id={`nonce-${n.id}`}>
                  {n.id}
                </td>
                <td>{n.agent}</td>
                <td>
                  <TaskLink task={n.task} />
                </td>
                <td>{n.service}</td>
                <td>{n.scopes.join(", ")}</td>
                <NonceStatusCells n={n} />
                <td>
                  <Time iso={n.expires_at} />
                </td>
                {canRevoke && (
                  <td>
                    {n.status === "active" && (
                      <button
                        type="button"
                        class="danger"
                        aria-describedby={`nonce-${n.id}`}
                        onClick={() => revoke(n.id)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {nonces.length === 0 && <p class="muted">No nonces match.</p>}
      </div>
      {cursor && (
        <button type="button" class="secondary" onClick={more}>
          Load more nonces
        </button>
      )}
    </section>
  );
}

/** The kill switch: every active nonce of a task and/or agent, after an explicit confirmation. */
function RevokeMatching({ onDone }: { onDone(message: string): void }) {
  const [task, setTask] = useState("");
  const [agent, setAgent] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState("");
  const what = [task && `task ${task}`, agent && `agent ${agent}`].filter(Boolean).join(" and ");

  const revoke = async () => {
    setError("");
    try {
      const r = await api<{ revoked: number }>("POST", "/v1/nonces/revoke", {
        ...(task ? { task } : {}),
        ...(agent ? { agent } : {}),
      });
      setConfirming(false);
      onDone(`Revoked ${r.revoked} nonce${r.revoked === 1 ? "" : "s"} of ${what}.`);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="kill-h" class="kill">
      <h2 id="kill-h">Revoke by task or agent</h2>
      <form
        class="filters"
        aria-label="Revoke by task or agent"
        onSubmit={(e) => {
          e.preventDefault();
          if (!task.trim() && !agent.trim()) return setError("Give a task, an agent or both.");
          setError("");
          setConfirming(true);
        }}
      >
        <Field
          id="k-task"
          label="Task to revoke"
          value={task}
          onInput={(v) => {
            setTask(v);
            setConfirming(false);
          }}
        />
        <Field
          id="k-agent"
          label="Agent to revoke"
          value={agent}
          onInput={(v) => {
            setAgent(v);
            setConfirming(false);
          }}
        />
        <button type="submit" class="danger">
          Revoke all matching
        </button>
      </form>
      {confirming && (
        <div class="confirm" role="alertdialog" aria-labelledby="kill-q">
          <p id="kill-q">Revoke every active nonce of {what}? Agents using them are refused from their next request.</p>
          <button type="button" class="danger" onClick={revoke}>
            Confirm revoke
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      <Alert>{error}</Alert>
    </section>
  );
}
