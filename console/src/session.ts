/**
 * The API key lives in sessionStorage only: gone when the tab closes, never in localStorage, a cookie or a URL.
 * It leaves the page only as the Authorization header of same-origin API calls (api.ts, stream.ts).
 */
const STORAGE_KEY = "agent-nonce.api-key";

export function storedKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Fired when the server refuses the key (revoked while signed in): the app goes back to sign-in. */
export const SIGNED_OUT = "agent-nonce:signed-out";
