import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";

import { api } from "../api/client";
import type { Consumption as Series, Granularity } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { consumptionBars, defaultRange, GRANULARITIES, isGranularity, localToday } from "../lib/consumption";
import { call, useLoad } from "../lib/load";
import { ConsumptionChart } from "./ConsumptionChart";
import { FieldErrors, FormAlert, TextField } from "./Form";
import { Failed, Loading } from "./Status";

const FIELDS = ["granularity", "from", "to"];

/** The meter's consumption by month, day or hour, as the API computes it
 * (GET /meters/{meter}/consumption): the choice of granularity and days, kept in the address
 * (?granularity=&from=&to=), a bar chart and the same figures as a table. The usual days end
 * today, or on `lastDay` (a removed meter's last day) when that was earlier. */
export function Consumption({ number, refresh, lastDay }: { number: string; refresh: number; lastDay?: string | null }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [params, setParams] = useSearchParams();
  const today = useMemo(() => {
    const local = localToday();
    return lastDay && lastDay < local ? lastDay : local;
  }, [lastDay]);
  const asked = params.get("granularity");
  const granularity: Granularity = isGranularity(asked) ? asked : "month";
  const fallback = defaultRange(granularity, today);
  const from = params.get("from") || fallback.from;
  const to = params.get("to") || fallback.to;

  const [draft, setDraft] = useState({ granularity, from, to });
  // The table stays open (or closed) as the person left it while other days load.
  const [tableOpen, setTableOpen] = useState(false);
  useEffect(() => setDraft({ granularity, from, to }), [granularity, from, to]);

  const [state, reload] = useLoad(
    () =>
      call(
        api.GET("/api/v1/meters/{meter_number}/consumption", {
          params: { path: { meter_number: number }, query: { granularity, from, to } },
        }),
      ),
    [number, granularity, from, to, refresh],
  );

  const show = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams(params);
    next.set("granularity", draft.granularity);
    next.set("from", draft.from);
    next.set("to", draft.to);
    setParams(next);
  };
  // Another granularity starts from its own usual days: a year of hours is more than a chart holds.
  const choose = (value: string) => {
    if (isGranularity(value)) setDraft({ granularity: value, ...defaultRange(value, today) });
  };

  const refused = state.status === "error" && state.failure.status === 422 ? state.failure : null;
  const errors = describeFieldErrors(i18n, refused);
  const summary = refused
    ? [describeFailure(i18n, refused), ...[...errors].flatMap(([field, m]) => (FIELDS.includes(field) ? [] : m))]
    : [];

  return (
    <section aria-labelledby="chart-heading">
      <h2 id="chart-heading">{t("meter.chart")}</h2>
      <form className="filters" onSubmit={show} noValidate aria-label={t("meter.chartFilters")}>
        <FormAlert messages={summary} />
        <div className={errors.has("granularity") ? "field field-invalid" : "field"}>
          <label htmlFor="consumption-granularity">{t("meter.granularity")}</label>
          <FieldErrors id={errors.has("granularity") ? "consumption-granularity-error" : undefined} errors={errors.get("granularity")} />
          <select
            id="consumption-granularity"
            value={draft.granularity}
            onChange={(event) => choose(event.target.value)}
            aria-invalid={errors.has("granularity") || undefined}
            aria-describedby={errors.has("granularity") ? "consumption-granularity-error" : undefined}
          >
            {GRANULARITIES.map((value) => (
              <option key={value} value={value}>
                {t(`meter.granularity.${value}`)}
              </option>
            ))}
          </select>
        </div>
        <TextField
          id="consumption-from"
          type="date"
          label={t("meter.from")}
          value={draft.from}
          max={today}
          onChange={(event) => setDraft({ ...draft, from: event.target.value })}
          errors={errors.get("from")}
        />
        <TextField
          id="consumption-to"
          type="date"
          label={t("meter.to")}
          value={draft.to}
          max={today}
          onChange={(event) => setDraft({ ...draft, to: event.target.value })}
          errors={errors.get("to")}
        />
        <div className="filter-actions">
          <button type="submit" className="button">
            {t("meter.show")}
          </button>
        </div>
      </form>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" && !refused ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? <SeriesView series={state.data} tableOpen={tableOpen} onTable={setTableOpen} /> : null}
    </section>
  );
}

/** A series as a chart and, for whoever cannot see it or wants the figures, as a table. */
function SeriesView({ series, tableOpen, onTable }: { series: Series; tableOpen: boolean; onTable(open: boolean): void }) {
  const i18n = useI18n();
  const { t, date, cubicMetres } = i18n;
  const bars = consumptionBars(series.points, series.granularity, i18n);
  if (!series.first_day || !series.last_day || !bars.length) return <p>{t("meter.chartOutside")}</p>;
  if (series.total === null) return <p>{t("meter.chartEmpty")}</p>;
  const range = { from: date(series.first_day), to: date(series.last_day), total: cubicMetres(series.total) };
  const kind = t(`meter.granularity.${series.granularity}`);
  return (
    <>
      <figure className="chart-figure">
        {/* A long series scrolls sideways: by keyboard too. */}
        <div className="chart-scroll" role="region" aria-labelledby="chart-heading" tabIndex={0}>
          <ConsumptionChart bars={bars} label={t("meter.chartLabel", { granularity: kind, ...range })} />
        </div>
        <figcaption>
          <p>{t("meter.chartTotal", range)}</p>
          {bars.some((bar) => bar.estimated) ? <p className="muted">{t("meter.chartEstimated")}</p> : null}
        </figcaption>
      </figure>
      <details className="chart-table" open={tableOpen} onToggle={(event) => onTable(event.currentTarget.open)}>
        <summary>{t("meter.chartTable")}</summary>
        <div className="table-wrap" role="region" aria-label={t("meter.chartTableCaption")} tabIndex={0}>
          <table data-testid="consumption-table">
            <caption className="visually-hidden">{t("meter.chartTableCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("meter.period")}</th>
                <th scope="col" className="num">
                  {t("meter.consumption")}
                </th>
              </tr>
            </thead>
            <tbody>
              {bars.map((bar) => (
                <tr key={bar.key}>
                  <th scope="row">{bar.label}</th>
                  <td className="num">
                    {bar.value === null
                      ? t("meter.noData")
                      : bar.estimated
                        ? t("meter.estimated", { value: cubicMetres(bar.value) })
                        : cubicMetres(bar.value)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}
