import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { vi } from "vitest";

import type { Language } from "../api/types";
import { I18nProvider } from "../i18n/I18nProvider";

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type, ...headers } });
}

export interface Call {
  method: string;
  path: string;
  search: string;
  headers: Headers;
  body: string;
}

/** A proof-of-work challenge whose number is 7 (as identity makes them, small). */
export const CHALLENGE = {
  algorithm: "SHA-256",
  salt: "0123456789abcdef01234567?expires=4102444800&",
  challenge: bytesToHex(sha256(utf8ToBytes("0123456789abcdef01234567?expires=4102444800&7"))),
  maxnumber: 50,
  signature: "5".repeat(64),
} as const;

/** A fake `fetch` answering by "METHOD /path"; records every request. Proof-of-work challenges
 * (POST /api/v1/captcha/challenge) get CHALLENGE unless `answer` says otherwise. */
export function fakeFetch(answer: (call: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const call: Call = {
      method: request.method,
      path: url.pathname,
      search: url.search,
      headers: request.headers,
      body: await request.text(),
    };
    calls.push(call);
    if (call.path === "/api/v1/captcha/challenge") return json(CHALLENGE, 201);
    return answer(call);
  });
  vi.stubGlobal("fetch", fetch);
  return { fetch, calls };
}

export function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname + location.search + location.hash}</output>;
}

export function renderAt(path: string, routePath: string, element: ReactElement, language: Language = "pl") {
  return render(
    <I18nProvider initial={language}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path={routePath} element={element} />
          <Route path="*" element={<p>elsewhere</p>} />
        </Routes>
        <LocationProbe />
      </MemoryRouter>
    </I18nProvider>,
  );
}
