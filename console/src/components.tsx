import type { ComponentChildren } from "preact";
import { onLinkClick, viewHref } from "./router.js";
import type { AuditEvent, Policy } from "./types.js";

const LOCAL = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A time in the viewer's zone; UTC on hover (title) and in the machine-readable dateTime. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span>{iso}</span>;
  return (
    <time dateTime={iso} title={`${d.toISOString().replace("T", " ").replace("Z", "")} UTC`}>
      {LOCAL.format(d)}
    </time>
  );
}

export function Status({ children }: { children: ComponentChildren }) {
  return (
    <p class="status" role="status">
      {children}
    </p>
  );
}

export function Alert({ children }: { children: ComponentChildren }) {
  if (!children) return null;
  return (
    <p class="alert" role="alert">
      {children}
    </p>
  );
}

export function Field(props: {
  label: string;
  value: string;
  onInput(v: string): void;
  id: string;
  placeholder?: string;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="text"
        value={props.value}
        placeholder={props.placeholder}
        autocomplete="off"
        spellcheck={false}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
    </div>
  );
}

export function Select(props: {
  label: string;
  value: string;
  options: readonly string[];
  onChange(v: string): void;
  id: string;
  any?: string;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        {props.any !== undefined && <option value="">{props.any}</option>}
        {props.options.map((o) => (
          <option value={o} key={o}>
            {o}
          </option>
        ))}
      </select>
    </div>
  );
}

export const TaskLink = ({ task }: { task: string | null }) =>
  task ? (
    <a href={viewHref("tasks", { task })} onClick={onLinkClick}>
      {task}
    </a>
  ) : (
    <span class="muted">—</span>
  );

const DENIED = /denied|rejected|replayed|canary|mint_failed/;

/** A short outcome class for colour and for the timeline: issued, used, denied, revoked or other. */
export function outcome(type: string): "issued" | "used" | "denied" | "revoked" | "other" {
  if (DENIED.test(type)) return "denied";
  if (type === "nonce.revoked" || type === "key.revoked") return "revoked";
  if (type === "nonce.used" || type === "nonce.completed") return "used";
  if (type === "nonce.issued" || type === "nonce.delegated" || type === "approval.approved") return "issued";
  return "other";
}

/**
 * Audit `data` fields worth showing; the server never puts a secret there, and a fingerprint is not one
 * (`credential` is the fingerprint of the real credential a `nonce.used` carried).
 */
const DETAIL_KEYS = ["fingerprint", "credential", "comment", "count", "approval_id", "role", "parent_id"];

export function requestText(e: AuditEvent): string {
  const r = e.request;
  if (!r?.method && !r?.path) return "";
  return `${r.method ?? ""} ${r.path ?? ""}${r.status ? ` → ${r.status}` : ""}`.trim();
}

export function details(e: AuditEvent): string {
  const parts: string[] = [];
  for (const k of DETAIL_KEYS) {
    const v = e.data?.[k];
    if (v !== undefined && v !== null && typeof v !== "object") parts.push(`${k}: ${String(v)}`);
  }
  return parts.join(", ");
}

export function EventTable({ events, caption }: { events: readonly AuditEvent[]; caption: string }) {
  return (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Agent</th>
            <th scope="col">Task</th>
            <th scope="col">Service</th>
            <th scope="col">Request</th>
            <th scope="col">Reason</th>
            <th scope="col">Actor</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.seq} class={`ev-${outcome(e.type)}`} data-seq={e.seq}>
              <td>
                <Time iso={e.time} />
              </td>
              <td>
                <span class={`badge badge-${outcome(e.type)}`}>{e.type}</span>
              </td>
              <td>{e.agent ?? "—"}</td>
              <td>
                <TaskLink task={e.task} />
              </td>
              <td>{e.service ?? "—"}</td>
              <td class="mono">{requestText(e)}</td>
              <td>{e.reason ?? ""}</td>
              <td>{e.actor ? `${e.actor.name} (${e.actor.type})` : "—"}</td>
              <td class="mono">{details(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.length === 0 && <p class="muted">No events.</p>}
    </div>
  );
}

/** An issuer policy as readable rules: who may issue what. */
export function PolicyText({ policy }: { policy: Policy | null }) {
  if (!policy) return <span class="muted">—</span>;
  return (
    <ul class="policy">
      {policy.allow.map((r, i) => (
        <li key={i}>
          <strong>{r.service}</strong>: {r.scopes.join(", ")}
          {r.max_ttl !== undefined && `, ttl ≤ ${r.max_ttl}`}
          {r.max_uses !== undefined && `, ≤ ${r.max_uses} uses`}
          {r.max_rate && `, rate ≤ ${r.max_rate}`}
          {r.allow_routes && ", raw routes"}
          {r.approval?.required && ", needs approval"}
        </li>
      ))}
      <li>agents: {policy.agents?.length ? policy.agents.join(", ") : "any"}</li>
    </ul>
  );
}

/** A nonce's status and use count, as the Nonces list and a task's timeline show them. */
export function NonceStatusCells({ n }: { n: { status: string; uses: number; max_uses: number | null } }) {
  return (
    <>
      <td>
        <span class={`badge badge-${n.status}`}>{n.status}</span>
      </td>
      <td>
        {n.uses}
        {n.max_uses !== null ? ` / ${n.max_uses}` : ""}
      </td>
    </>
  );
}
