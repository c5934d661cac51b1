import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";

export default function BalancePage() {
  const { t, money, date, number } = useI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/balance")), []);
  return (
    <div className="medium">
      <PageHeading>{t("balance.title")}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        <section className="card">
          <dl className="figures">
            <div>
              <dt>{t("balance.amountDue")}</dt>
              <dd className="figure" data-testid="balance-amount-due">
                {money(state.data.amount_due)}
              </dd>
            </div>
            <div>
              <dt>{t("balance.overdue")}</dt>
              <dd className={Number(state.data.overdue_amount) > 0 ? "figure figure-alert" : "figure"}>{money(state.data.overdue_amount)}</dd>
            </div>
            <div>
              <dt>{t("balance.overpaid")}</dt>
              <dd className="figure">{money(state.data.overpaid)}</dd>
            </div>
          </dl>
          <dl className="facts">
            <div>
              <dt>{t("balance.balance")}</dt>
              <dd>{money(state.data.balance)}</dd>
            </div>
            <div>
              <dt>{t("balance.charges")}</dt>
              <dd>{money(state.data.charges)}</dd>
            </div>
            <div>
              <dt>{t("balance.credits")}</dt>
              <dd>{money(state.data.credits)}</dd>
            </div>
            <div>
              <dt>{t("balance.openInvoices")}</dt>
              <dd>{number(state.data.open_invoices)}</dd>
            </div>
            <div>
              <dt>{t("balance.asOf")}</dt>
              <dd>{date(state.data.as_of)}</dd>
            </div>
          </dl>
          <p className="muted">{t("balance.explain")}</p>
        </section>
      ) : null}
    </div>
  );
}
