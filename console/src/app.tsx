import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { viewsFor } from "./roles.js";
import { navigate, onLinkClick, useRoute, viewHref } from "./router.js";
import { forgetKey, SIGNED_OUT, storedKey } from "./session.js";
import type { Whoami } from "./types.js";
import { Approvals } from "./views/approvals.js";
import { Integrity } from "./views/integrity.js";
import { Keys } from "./views/keys.js";
import { Live } from "./views/live.js";
import { Nonces } from "./views/nonces.js";
import { SignIn } from "./views/sign-in.js";
import { Tasks } from "./views/tasks.js";

const RENDER: Record<string, (p: { me: Whoami }) => preact.JSX.Element> = {
  live: Live,
  tasks: Tasks,
  nonces: Nonces,
  approvals: Approvals,
  keys: Keys,
  integrity: Integrity,
};

export function App() {
  const [me, setMe] = useState<Whoami | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() !== null);
  const route = useRoute();

  useEffect(() => {
    // A reload keeps the session (same tab): ask who the stored key is.
    if (!storedKey()) return;
    api<Whoami>("GET", "/v1/whoami")
      .then(setMe)
      .catch(() => forgetKey())
      .finally(() => setRestoring(false));
  }, []);

  useEffect(() => {
    const out = () => setMe(null);
    window.addEventListener(SIGNED_OUT, out);
    return () => window.removeEventListener(SIGNED_OUT, out);
  }, []);

  const views = me ? viewsFor(me.role) : [];
  const active = views.find((v) => v.slug === route.view) ?? views[0];
  useEffect(() => {
    // An unknown view, or one this role may not see, becomes the role's first view.
    if (active && active.slug !== route.view) navigate(viewHref(active.slug), true);
  }, [active, route.view]);

  if (restoring) return <p class="status">Loading…</p>;
  if (!me) return <SignIn onSignedIn={setMe} />;

  const View = active ? RENDER[active.slug] : undefined;

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Agent Nonce</span>
        <nav aria-label="Console">
          <ul>
            {views.map((v) => (
              <li key={v.slug}>
                <a
                  href={viewHref(v.slug)}
                  onClick={onLinkClick}
                  aria-current={v.slug === active?.slug ? "page" : undefined}
                >
                  {v.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {me.name} <span class="badge">{me.role}</span>
        </span>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            forgetKey();
            setMe(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {View ? <View me={me} key={active?.slug} /> : <p>This key's role has no console views.</p>}
      </main>
    </div>
  );
}
