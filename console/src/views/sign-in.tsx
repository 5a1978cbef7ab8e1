import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { Alert } from "../components.js";
import { storeKey } from "../session.js";
import type { Whoami } from "../types.js";

/**
 * Sign-in with an API key. The input has no `name` and the form no action (and the CSP says form-action 'none'),
 * so even without script the key could not be submitted into a URL. It is checked with GET /v1/whoami, then kept
 * in sessionStorage only.
 */
export function SignIn({ onSignedIn }: { onSignedIn(me: Whoami): void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) return setError("Enter an API key.");
    setBusy(true);
    setError("");
    try {
      const me = await api<Whoami>("GET", "/v1/whoami", undefined, k);
      storeKey(k);
      setKey("");
      onSignedIn(me);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That API key was refused."
          : "The server could not be reached.",
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <h1>Agent Nonce security console</h1>
      <form onSubmit={submit} noValidate>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          aria-describedby="api-key-help"
          onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)}
        />
        <p id="api-key-help" class="muted">
          An <code>ank_…</code> key. It is kept in this tab only and sent as a Bearer header.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <Alert>{error}</Alert>
      </form>
    </main>
  );
}
