import { useEffect, useRef } from "react";
import { useLocation } from "react-router";

/**
 * The page's one <h1>. After a navigation (not on the first page load, where the skip link
 * comes first) it takes the focus, so a screen reader starts reading the new page.
 */
export function PageHeading({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const location = useLocation();
  useEffect(() => {
    if (location.key !== "default") ref.current?.focus();
  }, [location.pathname, location.key]);
  useEffect(() => {
    document.title = `${children} — e-BOK`;
  }, [children]);
  return (
    <h1 ref={ref} tabIndex={-1} className="page-heading">
      {children}
    </h1>
  );
}
