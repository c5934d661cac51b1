import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";

import { api } from "../api/client";
import { CaseStatusBadge } from "../components/Cases";
import { DateFilter, FilterActions, SelectFilter } from "../components/Filters";
import { PageHeading } from "../components/PageHeading";
import { PagedTable } from "../components/PagedTable";
import { useCasesI18n } from "../i18n/correspondence";
import { KINDS, STATUSES, casePath, type CaseKind, type CaseStatus } from "../lib/cases";
import { call } from "../lib/load";

function isDay(value: string | null): value is string {
  return value !== null && /^\d{4}-\d{2}-\d{2}$/.test(value);
}

function oneOf<T extends string>(values: readonly T[], value: string | null): T | undefined {
  return values.includes(value as T) ? (value as T) : undefined;
}

/** The cases sent (GET /cases), newest first, filtered by kind, status and day sent; the
 * filters and the page are kept in the address. */
export default function CasesPage() {
  const { t, dateTime } = useCasesI18n();
  const [params, setParams] = useSearchParams();
  const kind = oneOf<CaseKind>(KINDS, params.get("kind"));
  const status = oneOf<CaseStatus>(STATUSES, params.get("status"));
  const since = isDay(params.get("since")) ? (params.get("since") ?? undefined) : undefined;
  const until = isDay(params.get("until")) ? (params.get("until") ?? undefined) : undefined;
  const empty = { kind: kind ?? "", status: status ?? "", since: since ?? "", until: until ?? "" };
  const [draft, setDraft] = useState(empty);
  useEffect(() => setDraft({ kind: kind ?? "", status: status ?? "", since: since ?? "", until: until ?? "" }), [kind, status, since, until]);
  const filtered = Boolean(kind || status || since || until);

  // Other filters start from the newest cases: a cursor is a place in one list.
  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries(draft)) if (value) next.set(name, value);
    setParams(next);
  };

  return (
    <div>
      <PageHeading>{t("cases.title")}</PageHeading>
      <p>{t("cases.intro")}</p>
      <p className="actions">
        <Link className="button" to="/cases/new">
          {t("writeToUs.title")}
        </Link>
      </p>
      <form className="filters" onSubmit={apply} aria-label={t("cases.filters")}>
        <SelectFilter
          id="filter-kind"
          label={t("cases.kind")}
          value={draft.kind}
          onChange={(kind) => setDraft({ ...draft, kind })}
          allLabel={t("cases.kindAll")}
          options={KINDS.map((value) => ({ value, label: t(`case.kind.${value}`) }))}
        />
        <SelectFilter
          id="filter-status"
          label={t("cases.status")}
          value={draft.status}
          onChange={(status) => setDraft({ ...draft, status })}
          allLabel={t("cases.statusAll")}
          options={STATUSES.map((value) => ({ value, label: t(`case.status.${value}`) }))}
        />
        <DateFilter id="filter-since" label={t("cases.since")} value={draft.since} onChange={(since) => setDraft({ ...draft, since })} />
        <DateFilter id="filter-until" label={t("cases.until")} value={draft.until} onChange={(until) => setDraft({ ...draft, until })} />
        <FilterActions filtered={filtered} onClear={() => setParams(new URLSearchParams())} />
      </form>
      <PagedTable
        caption={t("cases.caption")}
        empty={filtered ? t("cases.emptyFiltered") : t("cases.empty")}
        load={(query) =>
          call(
            api.GET("/api/v1/cases", {
              params: {
                query: {
                  ...query,
                  ...(kind ? { kind } : {}),
                  ...(status ? { status } : {}),
                  ...(since ? { since } : {}),
                  ...(until ? { until } : {}),
                },
              },
            }),
          )
        }
        refresh={`${kind}|${status}|${since}|${until}`}
        rowKey={(item) => item.number}
        testId="cases-table"
        tableClassName="wide-table"
        columns={[
          { header: t("case.number"), cell: (item) => <Link to={casePath(item.number)}>{item.number}</Link> },
          // The status next to the number: seen on a phone before the table scrolls sideways.
          { header: t("cases.status"), cell: (item) => <CaseStatusBadge status={item.status} /> },
          { header: t("cases.kind"), cell: (item) => t(`case.kind.${item.kind}`) },
          { header: t("case.titleColumn"), cell: (item) => <span className="break-anywhere">{item.title}</span> },
          { header: t("case.submittedAt"), cell: (item) => dateTime(item.submitted_at) },
        ]}
      />
    </div>
  );
}
