import { useEffect, useState } from "preact/hooks";
import { api, errorText, query } from "../api.js";
import { Alert, PolicyText, Time } from "../components.js";
import { useCursorList } from "../paging.js";
import type { ApiKey, AuditEvent, Service, Trust } from "../types.js";

/**
 * "Who may issue what": API keys with their roles and policies, OIDC trust relationships, and "which real
 * credential was used when": each service's credential by fingerprint (never its value) and the history of
 * credential changes, so a use at a given time maps to the fingerprint then in force. Admins only.
 */
export function Keys() {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [trust, setTrust] = useState<Trust[]>([]);
  const [services, setServices] = useState<Service[]>([]);
  const [error, setError] = useState("");
  const {
    items: history,
    cursor,
    more,
  } = useCursorList(
    (from) => `/v1/audit${query({ type: "credential.set", limit: 50, cursor: from })}`,
    (w: { events: AuditEvent[]; next_cursor: string | null }) => w.events,
    [],
    setError,
  );

  useEffect(() => {
    Promise.all([
      api<{ keys: ApiKey[] }>("GET", "/v1/keys"),
      api<{ trust: Trust[] }>("GET", "/v1/trust"),
      api<{ services: Service[] }>("GET", "/v1/services"),
    ])
      .then(([k, t, s]) => {
        setKeys(k.keys);
        setTrust(t.trust);
        setServices(s.services);
      })
      .catch((e) => setError(errorText(e)));
  }, []);

  return (
    <section aria-labelledby="keys-h">
      <h1 id="keys-h">Keys</h1>
      <Alert>{error}</Alert>
      <h2>API keys</h2>
      <div class="table-wrap">
        <table>
          <caption>API keys, their roles and policies (who may issue what)</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">Role</th>
              <th scope="col">Policy</th>
              <th scope="col">Created</th>
              <th scope="col">Revoked</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} class={k.revoked_at ? "revoked" : ""}>
                <td>{k.name}</td>
                <td class="mono">{k.id}</td>
                <td>
                  <span class="badge">{k.role}</span>
                </td>
                <td>{k.role === "issuer" ? <PolicyText policy={k.policy} /> : roleText(k.role)}</td>
                <td>
                  <Time iso={k.created_at} />
                </td>
                <td>
                  <Time iso={k.revoked_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Trust relationships</h2>
      <div class="table-wrap">
        <table>
          <caption>OIDC issuers whose tokens are accepted, and what they may do</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Issuer and audience</th>
              <th scope="col">Subject and claims</th>
              <th scope="col">Role</th>
              <th scope="col">Policy</th>
            </tr>
          </thead>
          <tbody>
            {trust.map((t) => (
              <tr key={t.name}>
                <td>{t.name}</td>
                <td class="mono">
                  {t.issuer}
                  <br />
                  {t.audience}
                </td>
                <td class="mono">
                  {t.subject ?? "any subject"}
                  {t.claims &&
                    Object.entries(t.claims).map(([k, v]) => (
                      <div key={k}>
                        {k} = {v}
                      </div>
                    ))}
                </td>
                <td>
                  <span class="badge">{t.role}</span>
                </td>
                <td>{t.role === "issuer" ? <PolicyText policy={t.policy} /> : roleText(t.role)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {trust.length === 0 && <p class="muted">No trust relationships.</p>}
      </div>
      <h2>Credentials</h2>
      <div class="table-wrap">
        <table>
          <caption>Each service's real credential, by fingerprint only</caption>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Upstream</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">Set</th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <tr key={s.name}>
                <td>{s.name}</td>
                <td class="mono">{s.upstream}</td>
                <td class="mono">{s.credential.fingerprint ?? "no credential"}</td>
                <td>
                  <Time iso={s.credential.updated_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="table-wrap">
        <table>
          <caption>Credential history: each fingerprint is in force from its time until the next one</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">Service</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">Set by</th>
            </tr>
          </thead>
          <tbody>
            {history.map((e) => (
              <tr key={e.seq}>
                <td>
                  <Time iso={e.time} />
                </td>
                <td>{e.service}</td>
                <td class="mono">{String(e.data?.fingerprint ?? "")}</td>
                <td>{e.actor?.name ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" class="secondary" onClick={more}>
          Load more credential changes
        </button>
      )}
    </section>
  );
}

function roleText(role: string): string {
  if (role === "admin") return "everything";
  if (role === "auditor") return "read audit and nonce status";
  if (role === "approver") return "decide approval requests";
  return "";
}
