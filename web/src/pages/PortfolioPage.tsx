import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";

import { api } from "../api/client";
import type { PortfolioEntry } from "../api/types";
import { customerLabel } from "../components/Managed";
import { PageHeading } from "../components/PageHeading";
import { PagedTable } from "../components/PagedTable";
import { AddressText } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { rememberCustomer } from "../lib/account";
import { call } from "../lib/load";

/** A manager's customers (GET /portfolio), searchable by address or contract number. */
export default function PortfolioPage() {
  const { t, money } = useI18n();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [typed, setTyped] = useState(q);

  const search = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (typed.trim()) next.set("q", typed.trim());
    setParams(next);
  };
  const open = (entry: PortfolioEntry) => {
    rememberCustomer(entry);
    navigate("/");
  };

  return (
    <div>
      <PageHeading>{t("portfolio.title")}</PageHeading>
      <p>{t("portfolio.intro")}</p>
      <form className="filters" role="search" onSubmit={search} aria-label={t("portfolio.search")}>
        <div className="field">
          <label htmlFor="portfolio-q">{t("portfolio.search")}</label>
          <input id="portfolio-q" type="search" value={typed} maxLength={100} onChange={(event) => setTyped(event.target.value)} aria-describedby="portfolio-q-hint" />
          <p className="hint" id="portfolio-q-hint">
            {t("portfolio.searchHint")}
          </p>
        </div>
        <div className="filter-actions">
          <button type="submit" className="button">
            {t("portfolio.searchSubmit")}
          </button>
        </div>
      </form>
      {q ? <p role="status">{t("portfolio.searchingFor", { q })}</p> : null}
      <PagedTable
        caption={t("portfolio.caption")}
        empty={q ? t("portfolio.noMatch") : t("portfolio.empty")}
        load={(query) => call(api.GET("/api/v1/portfolio", { params: { query: q ? { ...query, q } : query } }))}
        rowKey={(entry) => entry.customer_id}
        refresh={q}
        testId="portfolio-table"
        columns={[
          { header: t("portfolio.customer"), cell: (entry) => customerLabel(entry) },
          { header: t("managerRequest.scope"), cell: (entry) => t(`scope.${entry.scope}`) },
          {
            header: t("portfolio.points"),
            cell: (entry) =>
              entry.service_points.map((point) => (
                <p className="cell-line" key={point.service_point_id}>
                  <AddressText address={point.address} /> ({point.contract_number})
                </p>
              )),
          },
          { header: t("dashboard.amountDue"), numeric: true, cell: (entry) => money(entry.amount_due) },
          { header: t("dashboard.overdue"), numeric: true, cell: (entry) => money(entry.overdue_amount) },
          {
            header: t("portfolio.action"),
            cell: (entry) => (
              <button type="button" className="button button-secondary" onClick={() => open(entry)}>
                {t("portfolio.open", { customer: customerLabel(entry) })}
              </button>
            ),
          },
        ]}
      />
    </div>
  );
}
