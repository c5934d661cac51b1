import { Link } from "react-router";

import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";
import { useAccount, useChosenCustomer } from "../lib/account";

export type WholeCustomerAction = "eInvoice" | "customerData";

/**
 * Actions that cover all of a customer's properties (e-invoice consent, the customer's basic or
 * auxiliary data). A manager with a partial grant is not offered them, and their addresses
 * answer "not in your scope" saying why. Everyone else is told where to do it (e-BOK does not
 * offer these actions yet).
 */
export default function ScopedActionPage({ action }: { action: WholeCustomerAction }) {
  const { t } = useI18n();
  const account = useAccount();
  const chosen = useChosenCustomer();
  const partial = account.status === "ok" && account.role === "manager" && chosen?.scope === "partial";
  if (partial) {
    return (
      <div className="medium" data-testid="not-in-scope">
        <PageHeading>{t("notInScope.title")}</PageHeading>
        <p>{t(`notInScope.${action}`)}</p>
        <p>{t("notInScope.why")}</p>
        <p>{t("notInScope.who")}</p>
        <p>
          <Link className="button" to="/">
            {t("common.home")}
          </Link>
        </p>
      </div>
    );
  }
  return (
    <div className="medium">
      <PageHeading>{t(`wholeCustomer.${action}`)}</PageHeading>
      <p>{t("wholeCustomer.notYet")}</p>
      <p>
        <Link className="button" to="/">
          {t("common.home")}
        </Link>
      </p>
    </div>
  );
}
