import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";

import { useSession } from "../lib/session";
import { Loading } from "./Status";

/** Pages of the signed-in customer; after a one-time password only /password. */
export function RequireAuth({ children, passwordPage = false }: { children: ReactNode; passwordPage?: boolean }) {
  const session = useSession();
  const location = useLocation();
  if (session.status === "restoring") return <Loading />;
  if (session.status === "signed-out") {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search, reason: session.ended }} />;
  }
  if (session.mustChangePassword && !passwordPage) return <Navigate to="/password" replace />;
  return <>{children}</>;
}
