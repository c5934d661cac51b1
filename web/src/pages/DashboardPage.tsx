import type { ReactNode } from "react";
import { Link } from "react-router";

import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading, Unavailable } from "../components/Status";
import { ContractCard, InvoiceTable, MeterCard } from "../components/Views";
import { CaseStatusBadge } from "../components/Cases";
import { useCasesI18n } from "../i18n/correspondence";
import { useI18n } from "../i18n/I18nProvider";
import { casePath, type OpenCases } from "../lib/cases";
import { call, useLoad } from "../lib/load";
import { payPath } from "../lib/payments";

/** One list of the dashboard: its items, a line when there are none, or "temporarily
 * unavailable" when the service behind it did not answer. */
function ListPart<T>({
  className,
  heading,
  id,
  part,
  empty,
  children,
}: {
  className: string;
  heading: string;
  id: string;
  part: { available: boolean; data?: T[] | null };
  empty: string;
  children: (items: T[]) => ReactNode;
}) {
  return (
    <section className={className}>
      <h2 id={id}>{heading}</h2>
      {part.available && part.data ? part.data.length ? children(part.data) : <p>{empty}</p> : <Unavailable />}
    </section>
  );
}

/** The open cases (issue 13): how many, and the latest of them. */
function OpenCasesPart({ part }: { part: OpenCases | undefined }) {
  const { t, number, dateTime } = useCasesI18n();
  // A gateway older than the part (the app is served before the API is updated) leaves it out.
  if (!part) return null;
  const data = part.available ? part.data : null;
  return (
    <section className="card open-cases-card" aria-labelledby="dash-cases" data-testid="open-cases">
      <h2 id="dash-cases">{t("dashboard.openCases")}</h2>
      {data ? (
        <>
          {data.open ? (
            <dl className="figures">
              <div>
                <dt>{t("dashboard.openCasesCount")}</dt>
                <dd className="figure" data-testid="open-cases-count">
                  {number(data.open)}
                </dd>
              </div>
            </dl>
          ) : (
            <p data-testid="open-cases-count">{t("dashboard.noOpenCases")}</p>
          )}
          {data.latest_open.length ? (
            <ul className="case-links">
              {data.latest_open.map((item) => (
                <li key={item.number}>
                  <Link to={casePath(item.number)}>{t("dashboard.caseLink", { number: item.number, title: item.title })}</Link>{" "}
                  <CaseStatusBadge status={item.status} /> <span className="muted">{dateTime(item.updated_at)}</span>
                </li>
              ))}
            </ul>
          ) : null}
        </>
      ) : (
        <Unavailable />
      )}
      <p className="actions">
        <Link to="/cases/new">{t("writeToUs.title")}</Link>
        <Link to="/cases">{t("dashboard.allCases")}</Link>
      </p>
    </section>
  );
}

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
                {Number(state.data.balance.data.amount_due) > 0 ? (
                  <p>
                    <Link className="button" to={payPath()}>
                      {t("pay.action")}
                    </Link>
                  </p>
                ) : null}
                <p>
                  <Link to="/balance">{t("dashboard.balanceDetails")}</Link>
                </p>
              </>
            ) : (
              <Unavailable />
            )}
          </section>

          <OpenCasesPart part={state.data.open_cases} />

          <ListPart
            className="card wide"
            heading={t("dashboard.latestInvoices")}
            id="dash-invoices"
            part={state.data.latest_invoices}
            empty={t("invoices.none")}
          >
            {(invoices) => (
              <>
                <InvoiceTable invoices={invoices} caption={t("dashboard.latestInvoices")} />
                <p>
                  <Link to="/invoices">{t("dashboard.allInvoices")}</Link>
                </p>
              </>
            )}
          </ListPart>

          <ListPart
            className="wide"
            heading={t("dashboard.meters")}
            id="dash-meters"
            part={state.data.meters}
            empty={t("meters.empty")}
          >
            {(items) => (
              <div className="cards">
                {items.map((meter) => (
                  <MeterCard key={meter.meter_number} meter={meter} />
                ))}
              </div>
            )}
          </ListPart>

          <ListPart
            className="wide"
            heading={t("dashboard.contracts")}
            id="dash-contracts"
            part={state.data.contracts}
            empty={t("contracts.empty")}
          >
            {(items) =>
              items.map((contract) => <ContractCard key={contract.contract_number} contract={contract} level={3} />)
            }
          </ListPart>
        </div>
      ) : null}
    </div>
  );
}
