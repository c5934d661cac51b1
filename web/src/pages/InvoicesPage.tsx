import { useEffect, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";

import { api } from "../api/client";
import type { InvoiceStatus } from "../api/types";
import { DateFilter, FilterActions, SelectFilter } from "../components/Filters";
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
        <SelectFilter
          id="filter-status"
          label={t("invoice.status")}
          value={draft.status}
          onChange={(status) => setDraft({ ...draft, status })}
          allLabel={t("invoices.statusAll")}
          options={STATUSES.map((value) => ({ value, label: t(`invoice.status.${value}`) }))}
        />
        <DateFilter id="filter-from" label={t("invoices.from")} value={draft.from} onChange={(from) => setDraft({ ...draft, from })} />
        <DateFilter id="filter-to" label={t("invoices.to")} value={draft.to} onChange={(to) => setDraft({ ...draft, to })} />
        <FilterActions filtered={filtered} onClear={() => setParams(new URLSearchParams())} />
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
