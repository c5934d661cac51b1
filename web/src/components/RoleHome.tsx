import type { ReactNode } from "react";
import { Navigate } from "react-router";

import { useAccount, useChosenCustomer } from "../lib/account";
import { Failed, Loading } from "./Status";

/** The home page by role: an operator's queue, a manager's chosen customer (or the portfolio
 * when none is), a customer's dashboard. */
export function RoleHome({ children }: { children: ReactNode }) {
  const account = useAccount();
  const chosen = useChosenCustomer();
  if (account.status === "none" || account.status === "loading") return <Loading />;
  if (account.status === "error") return <Failed failure={account.failure} />;
  if (account.role === "operator") return <Navigate to="/operator/requests" replace />;
  if (account.role === "manager" && !chosen) return <Navigate to="/portfolio" replace />;
  return <>{children}</>;
}
