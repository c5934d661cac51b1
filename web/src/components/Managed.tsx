/** A manager's pieces of the shell (issue 10): the customer switcher and the scope note. */
import { useLocation, useNavigate } from "react-router";

import { chooseCustomer, type ChosenCustomer } from "../api/customer";
import type { PortfolioEntry } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { useChosenCustomer } from "../lib/account";

/** Account views: the scope note stands on these. */
const ACCOUNT_VIEWS = /^\/($|invoices|balance|payments|notes|contracts|meters|e-invoice|customer-data|cases)/;

export function customerLabel(customer: Pick<PortfolioEntry, "customer_id" | "name">): string {
  return customer.name ? `${customer.name} (${customer.customer_id})` : customer.customer_id;
}

/** The customer whose account the views show; a detail page of the previous one goes to its list. */
export function CustomerSwitcher({ customers }: { customers: PortfolioEntry[] }) {
  const { t } = useI18n();
  const chosen = useChosenCustomer();
  const navigate = useNavigate();
  const location = useLocation();
  const choices: ChosenCustomer[] = [...customers];
  if (chosen && !customers.some((entry) => entry.customer_id === chosen.customer_id)) choices.push(chosen);
  if (!choices.length) return null;
  return (
    <div className="language customer-switch">
      <label htmlFor="customer-select">{t("managed.customer")}</label>
      <select
        id="customer-select"
        data-testid="customer-select"
        value={chosen?.customer_id ?? ""}
        onChange={(event) => {
          const next = choices.find((entry) => entry.customer_id === event.target.value);
          if (!next) return;
          chooseCustomer(next);
          const detail = /^\/(invoices|meters)\/./.exec(location.pathname);
          if (detail) navigate(`/${detail[1] ?? ""}`);
        }}
      >
        {choices.map((entry) => (
          <option key={entry.customer_id} value={entry.customer_id}>
            {customerLabel(entry)}
          </option>
        ))}
      </select>
    </div>
  );
}

/** On every account view of a manager: whose account it is and, for a partial grant, that it
 * is limited to the granted properties. */
export function ScopeNote() {
  const { t, number } = useI18n();
  const chosen = useChosenCustomer();
  const location = useLocation();
  if (!ACCOUNT_VIEWS.test(location.pathname)) return null;
  if (!chosen) {
    return (
      <div className="notice notice-warning scope-note" role="note" data-testid="scope-note">
        <p>{t("managed.noneChosen")}</p>
      </div>
    );
  }
  const customer = customerLabel(chosen);
  if (chosen.scope === "full") {
    return (
      <div className="notice scope-note" role="note" data-testid="scope-note">
        <p>{t("managed.full", { customer })}</p>
      </div>
    );
  }
  return (
    <div className="notice notice-warning scope-note" role="note" data-testid="scope-note">
      <p>
        <strong>{t("managed.partialTitle")}</strong> {t("managed.partial", { customer, count: number(chosen.service_points.length) })}
      </p>
      <p>{t("managed.partialMoney")}</p>
    </div>
  );
}
