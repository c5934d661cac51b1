import createClient, { type Client, type Middleware } from "openapi-fetch";

import { customerMiddleware } from "./customer";
import type { paths } from "./schema";
import {
  SESSION_HEADER,
  SESSION_HEADER_VALUE,
  expireSession,
  getAccessToken,
  refreshTokens,
} from "./session";

/** Calls that issue or end tokens: a browser says it keeps the refresh token in the cookie. */
const COOKIE_SESSION_PATHS = new Set([
  "/api/v1/auth/login",
  "/api/v1/auth/refresh",
  "/api/v1/auth/logout",
  "/api/v1/me/password",
]);
/** A 401 from these means wrong credentials, not an expired access token. */
const NO_RETRY_PATHS = new Set(["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"]);

/**
 * Adds the in-memory access token and the session header; on a 401 refreshes once through the
 * cookie and repeats the call with the new token; when that fails, the session has expired.
 */
export function sessionMiddleware(fetchImpl: () => typeof fetch): Middleware {
  const originals = new Map<string, { request: Request; token: string | null }>();
  return {
    onRequest({ request, schemaPath, id }) {
      const token = getAccessToken();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      if (COOKIE_SESSION_PATHS.has(schemaPath)) {
        request.headers.set(SESSION_HEADER, SESSION_HEADER_VALUE);
      }
      if (!NO_RETRY_PATHS.has(schemaPath)) {
        originals.set(id, { request: request.clone(), token });
      }
      return request;
    },
    async onResponse({ response, id }) {
      const original = originals.get(id);
      originals.delete(id);
      if (response.status !== 401 || !original) return undefined;
      // Another call may have refreshed while this one was on its way.
      const renewed = getAccessToken() !== original.token || (await refreshTokens(fetchImpl()));
      const token = getAccessToken();
      if (!renewed || !token) {
        expireSession();
        return undefined;
      }
      const retry = original.request;
      retry.headers.set("Authorization", `Bearer ${token}`);
      const second = await fetchImpl()(retry);
      if (second.status === 401) expireSession();
      return second;
    },
    onError({ id }) {
      originals.delete(id);
    },
  };
}

export type ApiClient = Client<paths>;

export function createApiClient(fetchImpl: () => typeof fetch = () => globalThis.fetch): ApiClient {
  const client = createClient<paths>({
    baseUrl: globalThis.location?.origin ?? "",
    fetch: (request: Request) => fetchImpl()(request),
    credentials: "same-origin",
  });
  // First the customer a manager chose, so that a repeated call (after a refresh) keeps it.
  client.use(customerMiddleware());
  client.use(sessionMiddleware(fetchImpl));
  return client;
}

/** The app's client. */
export const api = createApiClient();
