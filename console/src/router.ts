import { useEffect, useState } from "preact/hooks";

/**
 * A tiny history router: views are /console/<view>, with view state (a task id, filters) in the query string.
 * The server answers index.html for any /console/<route>, so a reload or a bookmark lands on the same view.
 */

export const BASE = "/console";

export interface Route {
  view: string;
  params: URLSearchParams;
}

const current = (): Route => {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  return { view: rest.replace(/^\/+/, "").split("/")[0] ?? "", params: new URLSearchParams(location.search) };
};

const CHANGED = "agent-nonce:route";

export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  window.dispatchEvent(new Event(CHANGED));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGED, update);
    };
  }, []);
  return route;
}

/** A same-origin link handled by the router (a modified click still opens a new tab). */
export function onLinkClick(e: MouseEvent): void {
  const a = e.currentTarget as HTMLAnchorElement;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href") ?? BASE);
}

export const viewHref = (view: string, params: Record<string, string> = {}): string => {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "")).toString();
  return `${BASE}/${view}${q ? `?${q}` : ""}`;
};
