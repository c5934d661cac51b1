import { Link } from "react-router";

import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading, Unavailable } from "../components/Status";
import { ContractCard, InvoiceTable, MeterCard } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";

export default function DashboardPage() {
  const { t, money, date } = useI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/me/dashboard")), []);

  return (
    <div>
      <PageHeading>{t("dashboard.title")}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        <div className="dashboard">
          <section className="card balance-card">
            <h2 id="dash-balance">{t("dashboard.balance")}</h2>
            {state.data.balance.available && state.data.balance.data ? (
              <>
                <dl className="figures">
                  <div>
                    <dt>{t("dashboard.amountDue")}</dt>
                    <dd className="figure" data-testid="balance-amount-due">
                      {money(state.data.balance.data.amount_due)}
                    </dd>
                  </div>
                  <div>
                    <dt>{t("dashboard.overdue")}</dt>
                    <dd className={Number(state.data.balance.data.overdue_amount) > 0 ? "figure figure-alert" : "figure"}>
                      {money(state.data.balance.data.overdue_amount)}
                    </dd>
                  </div>
                  {Number(state.data.balance.data.overpaid) > 0 ? (
                    <div>
                      <dt>{t("dashboard.overpaid")}</dt>
                      <dd className="figure">{money(state.data.balance.data.overpaid)}</dd>
                    </div>
                  ) : null}
                </dl>
                <p className="muted">{t("dashboard.asOf", { date: date(state.data.balance.data.as_of) })}</p>
                <p>
                  <Link to="/balance">{t("dashboard.balanceDetails")}</Link>
                </p>
              </>
            ) : (
              <Unavailable />
            )}
          </section>

          <section className="card wide">
            <h2 id="dash-invoices">{t("dashboard.latestInvoices")}</h2>
            {state.data.latest_invoices.available && state.data.latest_invoices.data ? (
              state.data.latest_invoices.data.length ? (
                <>
                  <InvoiceTable invoices={state.data.latest_invoices.data} caption={t("dashboard.latestInvoices")} />
                  <p>
                    <Link to="/invoices">{t("dashboard.allInvoices")}</Link>
                  </p>
                </>
              ) : (
                <p>{t("invoices.none")}</p>
              )
            ) : (
              <Unavailable />
            )}
          </section>

          <section className="wide">
            <h2 id="dash-meters">{t("dashboard.meters")}</h2>
            {state.data.meters.available && state.data.meters.data ? (
              state.data.meters.data.length ? (
                <div className="cards">
                  {state.data.meters.data.map((meter) => (
                    <MeterCard key={meter.meter_number} meter={meter} />
                  ))}
                </div>
              ) : (
                <p>{t("meters.empty")}</p>
              )
            ) : (
              <Unavailable />
            )}
          </section>

          <section className="wide">
            <h2 id="dash-contracts">{t("dashboard.contracts")}</h2>
            {state.data.contracts.available && state.data.contracts.data ? (
              state.data.contracts.data.length ? (
                <>
                  {state.data.contracts.data.map((contract) => (
                    <ContractCard key={contract.contract_number} contract={contract} level={3} />
                  ))}
                </>
              ) : (
                <p>{t("contracts.empty")}</p>
              )
            ) : (
              <Unavailable />
            )}
          </section>
        </div>
      ) : null}
    </div>
  );
}
