import { useEffect, useState } from "preact/hooks";
import { api, errorText, query } from "../api.js";
import { Alert, Time } from "../components.js";
import type { Checkpoint, VerifyResult } from "../types.js";

interface CheckpointPage {
  checkpoints: Checkpoint[];
  next_cursor: string | null;
  signing_key: { kid: string };
}

const REASONS: Record<string, string> = {
  chain_broken: "an event was edited, deleted or reordered",
  anchor_missing: "the start of the chain is missing",
  checkpoint_invalid: "a signed checkpoint does not verify",
  checkpoint_mismatch: "the chain differs from what a signed checkpoint committed to",
  chain_truncated: "events were cut off after a signed checkpoint",
};

/** "Is the log intact": the hash chain verified end to end, and the latest signed checkpoint. */
export function Integrity() {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [latest, setLatest] = useState<Checkpoint | null>(null);
  const [kid, setKid] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  const run = async () => {
    setBusy(true);
    setError("");
    try {
      setResult(await api<VerifyResult>("GET", "/v1/audit/verify"));
      // Checkpoints come oldest first: walk the pages to the last one.
      let cursor: string | null = null;
      let last: Checkpoint | null = null;
      do {
        const page: CheckpointPage = await api<CheckpointPage>(
          "GET",
          `/v1/audit/checkpoints${query({ limit: 1000, cursor })}`,
        );
        last = page.checkpoints.at(-1) ?? last;
        setKid(page.signing_key.kid);
        cursor = page.next_cursor;
      } while (cursor);
      setLatest(last);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void run(), []);

  return (
    <section aria-labelledby="integrity-h">
      <h1 id="integrity-h">Integrity</h1>
      <button type="button" onClick={run} disabled={busy}>
        Verify again
      </button>
      <Alert>{error}</Alert>
      <div aria-live="polite">
        {busy && !result && <p class="status">Verifying the chain…</p>}
        {result &&
          (result.ok ? (
            <div class="verdict ok" data-verdict="intact">
              <h2>Chain intact</h2>
              <p>
                {result.events} events verified{result.from_seq ? ` after seq ${result.from_seq}` : ""}, against{" "}
                {result.checkpoints} signed checkpoint{result.checkpoints === 1 ? "" : "s"}
                {result.untrusted_checkpoints ? ` (${result.untrusted_checkpoints} from untrusted keys)` : ""}.
              </p>
            </div>
          ) : (
            <div class="verdict bad" data-verdict="broken" role="alert">
              <h2>Chain broken</h2>
              <p>
                The chain stops verifying at seq {result.first_bad_seq ?? "?"}:{" "}
                {REASONS[result.reason ?? ""] ?? result.reason} ({result.reason}). {result.events} events verified
                before it.
              </p>
            </div>
          ))}
      </div>
      <h2>Latest signed checkpoint</h2>
      {latest ? (
        <dl class="facts">
          <dt>Seq</dt>
          <dd>{latest.seq}</dd>
          <dt>Signed at</dt>
          <dd>
            <Time iso={latest.time} />
          </dd>
          <dt>Events covered</dt>
          <dd>{latest.events}</dd>
          <dt>Chain hash</dt>
          <dd class="mono wrap">{latest.hash}</dd>
          <dt>Signing key</dt>
          <dd class="mono">
            {latest.kid} {latest.trusted ? "(trusted)" : "(untrusted)"}
          </dd>
          <dt>Signature (JWS)</dt>
          <dd class="mono wrap small">{latest.jws}</dd>
        </dl>
      ) : (
        <p class="muted">No checkpoint yet (one is signed every few events or each minute).</p>
      )}
      {kid && (
        <p class="muted">
          This replica signs with key <span class="mono">{kid}</span>.
        </p>
      )}
    </section>
  );
}
