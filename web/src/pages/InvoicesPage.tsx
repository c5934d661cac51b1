import { useEffect, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";

import { api } from "../api/client";
import type { InvoiceStatus } from "../api/types";
import { ListFailed, Pager } from "../components/Pager";
import { PageHeading } from "../components/PageHeading";
import { Loading } from "../components/Status";
import { InvoiceTable } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";
import { cursorQuery, useCursor } from "../lib/paging";

const PAGE_SIZE = 10;
const STATUSES: InvoiceStatus[] = ["unpaid", "partly_paid", "paid", "overdue"];

function isStatus(value: string | null): value is InvoiceStatus {
  return STATUSES.includes(value as InvoiceStatus);
}

function isDay(value: string | null): value is string {
  return value !== null && /^\d{4}-\d{2}-\d{2}$/.test(value);
}

export default function InvoicesPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const statusParam = params.get("status");
  const status = isStatus(statusParam) ? statusParam : undefined;
  const from = isDay(params.get("from")) ? (params.get("from") ?? undefined) : undefined;
  const to = isDay(params.get("to")) ? (params.get("to") ?? undefined) : undefined;
  const { cursor, go, listRef } = useCursor();

  const [draft, setDraft] = useState({ status: status ?? "", from: from ?? "", to: to ?? "" });
  useEffect(() => setDraft({ status: status ?? "", from: from ?? "", to: to ?? "" }), [status, from, to]);

  const [state, reload] = useLoad(
    () =>
      call(
        api.GET("/api/v1/invoices", {
          params: {
            query: {
              ...cursorQuery(cursor, PAGE_SIZE),
              ...(status ? { status } : {}),
              ...(from ? { from } : {}),
              ...(to ? { to } : {}),
            },
          },
        }),
      ),
    [status, from, to, cursor],
  );

  // Other filters start from the newest invoices: a cursor is a place in one list.
  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (draft.status) next.set("status", draft.status);
    if (draft.from) next.set("from", draft.from);
    if (draft.to) next.set("to", draft.to);
    setParams(next);
  };
  const filtered = Boolean(status || from || to);

  return (
    <div>
      <PageHeading>{t("invoices.title")}</PageHeading>
      <form className="filters" onSubmit={apply} aria-label={t("invoices.filters")}>
        <div className="field">
          <label htmlFor="filter-status">{t("invoice.status")}</label>
          <select id="filter-status" value={draft.status} onChange={(event) => setDraft({ ...draft, status: event.target.value })}>
            <option value="">{t("invoices.statusAll")}</option>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {t(`invoice.status.${value}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-from">{t("invoices.from")}</label>
          <input id="filter-from" type="date" value={draft.from} onChange={(event) => setDraft({ ...draft, from: event.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="filter-to">{t("invoices.to")}</label>
          <input id="filter-to" type="date" value={draft.to} onChange={(event) => setDraft({ ...draft, to: event.target.value })} />
        </div>
        <div className="filter-actions">
          <button type="submit" className="button">
            {t("invoices.apply")}
          </button>
          {filtered ? (
            <button type="button" className="button button-secondary" onClick={() => setParams(new URLSearchParams())}>
              {t("invoices.clear")}
            </button>
          ) : null}
        </div>
      </form>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <ListFailed failure={state.failure} onRetry={reload} onNewest={() => go(null)} /> : null}
      {state.status === "ok" ? (
        <>
          {state.data.items.length ? (
            <InvoiceTable invoices={state.data.items} caption={t("invoices.caption")} regionRef={listRef} />
          ) : (
            <p className="empty">{filtered ? t("invoices.empty") : t("invoices.none")}</p>
          )}
          <Pager next={state.data.next_cursor} prev={state.data.prev_cursor} onPage={go} />
        </>
      ) : null}
    </div>
  );
}
