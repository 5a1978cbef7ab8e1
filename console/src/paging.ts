import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "./api.js";

/**
 * A cursor-paged list (`{<items>, next_cursor}` answers): the first page is fetched again whenever `deps` change,
 * `more()` appends the next one. A reload clears the error shown. `path(cursor)` builds the request; `pick` takes the items from the answer.
 */
export function useCursorList<T, W extends { next_cursor: string | null }>(
  path: (cursor: string | null) => string,
  pick: (w: W) => T[],
  deps: readonly unknown[],
  setError: (message: string) => void,
): { items: T[]; cursor: string | null; more: () => void } {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const fail = (e: unknown) => setError(errorText(e));

  useEffect(() => {
    setError("");
    api<W>("GET", path(null))
      .then((w) => {
        setItems(pick(w));
        setCursor(w.next_cursor);
      })
      .catch(fail);
  }, deps);

  const more = () => {
    if (cursor === null) return;
    api<W>("GET", path(cursor))
      .then((w) => {
        setItems((prev) => [...prev, ...pick(w)]);
        setCursor(w.next_cursor);
      })
      .catch(fail);
  };
  return { items, cursor, more };
}
