/**
 * The browser session. The access token lives in this module's memory only; the refresh token
 * is the gateway's HttpOnly cookie `ebok_refresh`, used by POST /api/v1/auth/refresh with the
 * header `X-Ebok-Session: cookie`. Nothing of the session goes to localStorage or
 * sessionStorage.
 */
import type { Tokens } from "./types";

export const SESSION_HEADER = "X-Ebok-Session";
export const SESSION_HEADER_VALUE = "cookie";

export type SessionStatus = "restoring" | "signed-in" | "signed-out";

export interface SessionState {
  status: SessionStatus;
  mustChangePassword: boolean;
  /** why the session ended, shown on the sign-in page */
  ended: "expired" | "signed-out" | null;
}

let accessToken: string | null = null;
let state: SessionState = { status: "restoring", mustChangePassword: false, ended: null };
const listeners = new Set<() => void>();
const expiryListeners = new Set<() => void>();
let refreshing: Promise<boolean> | null = null;
let restoring: Promise<boolean> | null = null;

function setState(next: SessionState): void {
  state = next;
  listeners.forEach((listener) => listener());
}

export function getSession(): SessionState {
  return state;
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getAccessToken(): string | null {
  return accessToken;
}

/** A token answer (login, refresh, password change) starts or renews the session. */
export function acceptTokens(tokens: Tokens): void {
  accessToken = tokens.access_token;
  setState({ status: "signed-in", mustChangePassword: tokens.must_change_password, ended: null });
}

export function endSession(why: SessionState["ended"]): void {
  accessToken = null;
  setState({ status: "signed-out", mustChangePassword: false, ended: why });
}

/** Called when a refresh fails in the middle of the session (the app goes to /login). */
export function onSessionExpired(listener: () => void): () => void {
  expiryListeners.add(listener);
  return () => expiryListeners.delete(listener);
}

function sessionHeaders(): Headers {
  const headers = new Headers({ [SESSION_HEADER]: SESSION_HEADER_VALUE });
  return headers;
}

function apiUrl(path: string): string {
  return new URL(path, globalThis.location?.origin ?? "http://localhost").toString();
}

/**
 * A new access token through the refresh cookie. One refresh at a time: the refresh token
 * rotates, and sending a spent one again would end the session.
 */
export function refreshTokens(fetchImpl: typeof fetch = globalThis.fetch): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetchImpl(
        new Request(apiUrl("/api/v1/auth/refresh"), {
          method: "POST",
          headers: sessionHeaders(),
          credentials: "same-origin",
        }),
      );
      if (!response.ok) return false;
      acceptTokens((await response.json()) as Tokens);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** At start: is there a session behind the cookie? (A page reload keeps the user signed in.) */
export function restoreSession(fetchImpl: typeof fetch = globalThis.fetch): Promise<boolean> {
  restoring ??= refreshTokens(fetchImpl).then((ok) => {
    if (!ok) endSession(null);
    return ok;
  });
  return restoring;
}

/** After a failed refresh in the middle of the session. */
export function expireSession(): void {
  if (state.status !== "signed-in") return;
  endSession("expired");
  expiryListeners.forEach((listener) => listener());
}

/** POST /auth/logout with the header: the gateway revokes the cookie's session and clears it. */
export async function signOut(fetchImpl: typeof fetch = globalThis.fetch): Promise<void> {
  try {
    await fetchImpl(
      new Request(apiUrl("/api/v1/auth/logout"), {
        method: "POST",
        headers: sessionHeaders(),
        credentials: "same-origin",
      }),
    );
  } finally {
    endSession("signed-out");
  }
}

/** For tests: back to the state of a fresh page. */
export function resetSessionForTests(): void {
  accessToken = null;
  refreshing = null;
  restoring = null;
  state = { status: "restoring", mustChangePassword: false, ended: null };
  listeners.clear();
  expiryListeners.clear();
}
