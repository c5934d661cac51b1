import { useSearchParams } from "react-router";

/** The list's page number, kept in the address (?page=2) so that back and reload keep it. */
export function usePage(): [number, (page: number) => void] {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Math.floor(Number(params.get("page"))) || 1);
  const setPage = (next: number) => {
    const copy = new URLSearchParams(params);
    copy.set("page", String(next));
    setParams(copy);
  };
  return [page, setPage];
}
