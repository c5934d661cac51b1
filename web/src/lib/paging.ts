import { useCallback, useRef } from "react";
import { useSearchParams } from "react-router";

import { fieldErrors, type Failure } from "../api/problems";

/** A page of a list as the API answers it (keyset paging): `next_cursor` leads to the older
 * rows, `prev_cursor` to the newer ones; each is null where the list ends. */
export interface CursorPage<T> {
  items: T[];
  next_cursor: string | null;
  prev_cursor: string | null;
}

export interface Cursor {
  /** The cursor of the page shown, from the address (?cursor=…); none: the newest rows. */
  cursor: string | undefined;
  /** Show the page of that cursor (null: the newest rows), as a new entry in the history, so
   * that back and reload keep the page. */
  go(cursor: string | null): void;
  /** A ref for the list's region: after a page is chosen, the new page's region takes the focus
   * once it is shown (the buttons that chose it are gone while it loads). */
  listRef(node: HTMLElement | null): void;
}

export function useCursor(): Cursor {
  const [params, setParams] = useSearchParams();
  const cursor = params.get("cursor") || undefined;
  const moved = useRef(false);
  const go = (next: string | null) => {
    const copy = new URLSearchParams(params);
    if (next) copy.set("cursor", next);
    else copy.delete("cursor");
    moved.current = true;
    setParams(copy);
  };
  const listRef = useCallback((node: HTMLElement | null) => {
    if (node && moved.current) {
      moved.current = false;
      node.focus();
    }
  }, []);
  return { cursor, go, listRef };
}

/** `?limit=` and, on any page but the newest, `&cursor=`. */
export function cursorQuery(cursor: string | undefined, limit: number): { limit: number; cursor?: string } {
  return cursor ? { limit, cursor } : { limit };
}

/** Whether the API refused the cursor (the address was edited, or outlived what it pointed at). */
export function cursorRefused(failure: Failure): boolean {
  return failure.status === 422 && fieldErrors(failure).has("cursor");
}
