import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";

import { failureOf, networkFailure, type Failure } from "../api/problems";

export type Outcome<T> = { ok: true; data: T; response: Response } | { ok: false; failure: Failure };

/** An openapi-fetch call as data or the reason there is none (network errors included). */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Outcome<T>> {
  try {
    const { data, error, response } = await request;
    if (response.ok) return { ok: true, data: data as T, response };
    return { ok: false, failure: failureOf(response, error) };
  } catch {
    return { ok: false, failure: networkFailure };
  }
}

export type LoadState<T> =
  | { status: "loading" }
  | { status: "ok"; data: T }
  | { status: "error"; failure: Failure };

/** Loads on mount and when deps change; `reload` repeats the call (the "try again" button). */
export function useLoad<T>(
  load: () => Promise<Outcome<T>>,
  deps: DependencyList,
): [LoadState<T>, (options?: { quiet?: boolean }) => void] {
  const [state, setState] = useState<LoadState<T>>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const quiet = useRef(false);
  useEffect(() => {
    let current = true;
    // A quiet reload (after a change the page made itself) keeps showing what it has.
    if (!quiet.current) setState({ status: "loading" });
    quiet.current = false;
    void loadRef.current().then((outcome) => {
      if (!current) return;
      setState(
        outcome.ok
          ? { status: "ok", data: outcome.data }
          : { status: "error", failure: outcome.failure },
      );
    });
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, attempt]);
  const reload = useCallback((options?: { quiet?: boolean }) => {
    quiet.current = Boolean(options?.quiet);
    setAttempt((n) => n + 1);
  }, []);
  return [state, reload];
}
