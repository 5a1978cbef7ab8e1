import { useState } from "preact/hooks";
import { api, errorText, query } from "../api.js";
import { Alert, Select, Status, TaskLink, Time } from "../components.js";
import { useCursorList } from "../paging.js";
import { mayDecide } from "../roles.js";
import type { Approval, Whoami } from "../types.js";

const STATUSES = ["pending", "approved", "denied", "expired"] as const;

/** Pending approval requests with "Approve" and "Deny" (admins and approvers), and decided ones. */
export function Approvals({ me }: { me: Whoami }) {
  const [status, setStatus] = useState("pending");
  const [comments, setComments] = useState<Record<string, string>>({});
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const [reload, setReload] = useState(0);
  const canDecide = mayDecide(me.role);

  const { items, cursor, more } = useCursorList(
    (from) => `/v1/approvals${query({ status, limit: 50, cursor: from })}`,
    (w: { approvals: Approval[]; next_cursor: string | null }) => w.approvals,
    [status, reload],
    setError,
  );

  const decide = async (a: Approval, decision: "approve" | "deny") => {
    setError("");
    const comment = comments[a.id]?.trim();
    try {
      await api("POST", `/v1/approvals/${encodeURIComponent(a.id)}/${decision}`, comment ? { comment } : {});
      setMessage(`${decision === "approve" ? "Approved" : "Denied"} ${a.id} (${a.agent}, ${a.service}).`);
      setReload((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="approvals-h">
      <h1 id="approvals-h">Approvals</h1>
      <div class="filters">
        <Select id="a-status" label="Status" value={status} options={STATUSES} onChange={setStatus} />
      </div>
      {message && <Status>{message}</Status>}
      <Alert>{error}</Alert>
      <div class="table-wrap">
        <table>
          <caption>Approval requests ({status}), newest first</caption>
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Agent</th>
              <th scope="col">Task</th>
              <th scope="col">Service and scopes</th>
              <th scope="col">TTL</th>
              <th scope="col">Requested</th>
              <th scope="col">{status === "pending" ? "Expires" : "Decided"}</th>
              {canDecide && status === "pending" && <th scope="col">Decision</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-approval={a.id}>
                <td>
                  <span class="mono" id={`apr-${a.id}`}>
                    {a.id}
                  </span>
                  <div class="mono muted small">by {a.requested_by}</div>
                </td>
                <td>{a.agent}</td>
                <td>
                  <TaskLink task={a.task} />
                </td>
                <td>
                  <strong>{a.service}</strong> {a.scopes.join(", ")}
                </td>
                <td>{a.ttl_s}s</td>
                <td>
                  <Time iso={a.created_at} />
                </td>
                <td>
                  {status === "pending" ? <Time iso={a.expires_at} /> : <Time iso={a.decided_at} />}
                  {a.comment && <div class="muted">“{a.comment}”</div>}
                </td>
                {canDecide && status === "pending" && (
                  <td class="actions">
                    <label class="sr-only" for={`c-${a.id}`}>
                      Comment on {a.id}
                    </label>
                    <input
                      id={`c-${a.id}`}
                      type="text"
                      placeholder="Comment"
                      maxLength={500}
                      value={comments[a.id] ?? ""}
                      onInput={(e) => setComments({ ...comments, [a.id]: (e.currentTarget as HTMLInputElement).value })}
                    />
                    <button type="button" aria-describedby={`apr-${a.id}`} onClick={() => decide(a, "approve")}>
                      Approve
                    </button>
                    <button
                      type="button"
                      class="danger"
                      aria-describedby={`apr-${a.id}`}
                      onClick={() => decide(a, "deny")}
                    >
                      Deny
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {items.length === 0 && <p class="muted">No {status} requests.</p>}
      </div>
      {cursor && (
        <button type="button" class="secondary" onClick={more}>
          Load more requests
        </button>
      )}
    </section>
  );
}
