import { useEffect, useRef } from "react";
import { useLocation } from "react-router";

/**
 * The page's one <h1>. After a navigation (not on the first page load, where the skip link
 * comes first) it takes the focus, so a screen reader starts reading the new page.
 */
export function PageHeading({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const location = useLocation();
  // On a new path only: a page that rewrites its own address (the activation link's token
  // taken out, a list's filters) keeps the focus where it is.
  const firstLoad = location.key === "default";
  useEffect(() => {
    if (!firstLoad) ref.current?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [location.pathname]);
  useEffect(() => {
    document.title = `${children} — e-BOK`;
  }, [children]);
  return (
    <h1 ref={ref} tabIndex={-1} className="page-heading">
      {children}
    </h1>
  );
}
