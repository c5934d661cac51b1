import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import type { Meter } from "../api/types";
import { Consumption } from "../components/Consumption";
import { FormAlert, Notice, TextField } from "../components/Form";
import { PagedTable } from "../components/PagedTable";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { AddressText } from "../components/Views";
import { normalizeDecimal } from "../i18n/format";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call, useLoad, type Outcome } from "../lib/load";
import { NotFound } from "./NotFoundPage";

/** "2026-11-24T08:30" in the browser's time zone, for a datetime-local input. */
function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// A month of daily readings a page.
const READINGS_PAGE = 31;

/** The meter (null when the customer's meters do not include it: the readings answer 404). */
async function loadMeter(number: string): Promise<Outcome<Meter | null>> {
  const meters = await call(api.GET("/api/v1/meters"));
  if (!meters.ok) return meters;
  return { ...meters, data: meters.data.items.find((m) => m.meter_number === number) ?? null };
}

function ReadingForm({ number, onSaved }: { number: string; onSaved(): void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [value, setValue] = useState("");
  const [readAt, setReadAt] = useState(() => localInputValue(new Date()));
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    setSaved(null);
    const when = new Date(readAt);
    const outcome = await call(
      api.POST("/api/v1/meters/{meter_number}/readings", {
        params: { path: { meter_number: number } },
        body: {
          value: normalizeDecimal(value),
          read_at: Number.isNaN(when.getTime()) ? readAt : when.toISOString(),
        },
      }),
    );
    setSending(false);
    if (outcome.ok) {
      setSaved(outcome.data.value);
      setValue("");
      onSaved();
    } else {
      setFailure(outcome.failure);
    }
  };

  const errors = describeFieldErrors(i18n, failure);
  if (failure && problemCode(failure) === "reading-exists") errors.set("read_at", [t("problem.reading-exists")]);
  const summary: string[] = [];
  if (failure) {
    summary.push(describeFailure(i18n, failure));
    for (const [field, messages] of errors) if (field !== "value" && field !== "read_at") summary.push(...messages);
  }

  return (
    <section className="card">
      <h2 id="reading-form-heading">{t("meter.formHeading")}</h2>
      {saved ? <Notice tone="success">{t("meter.formSaved", { value: i18n.cubicMetres(saved) })}</Notice> : null}
      <form className="form" onSubmit={submit} noValidate data-testid="reading-form" aria-busy={sending}>
        <FormAlert messages={summary} />
        <TextField
          id="value"
          label={t("meter.formValue")}
          hint={t("meter.formValueHint")}
          inputMode="decimal"
          autoComplete="off"
          value={value}
          onChange={(event) => setValue(event.target.value)}
          errors={errors.get("value")}
          required
        />
        <TextField
          id="read_at"
          type="datetime-local"
          label={t("meter.formReadAt")}
          value={readAt}
          max={localInputValue(new Date(Date.now() + 60_000))}
          onChange={(event) => setReadAt(event.target.value)}
          errors={errors.get("read_at")}
          required
        />
        <button type="submit" className="button" disabled={sending}>
          {sending ? t("common.sending") : t("meter.formSubmit")}
        </button>
      </form>
    </section>
  );
}

export default function MeterPage() {
  const { t, date, dateTime, cubicMetres } = useI18n();
  const number = useParams().meter ?? "";
  const [state, reload] = useLoad(() => loadMeter(number), [number]);
  // Bumped when a reading is saved: the consumption chart and the readings load again.
  const [saved, setSaved] = useState(0);

  if ((state.status === "error" && state.failure.status === 404) || (state.status === "ok" && !state.data)) {
    return <NotFound message={t("problem.not-found")} />;
  }

  return (
    <div>
      <p className="breadcrumb">
        <Link to="/meters">{t("meter.back")}</Link>
      </p>
      <PageHeading>{t("meter.title", { number })}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" && state.data ? (
        <>
          <dl className="facts facts-columns">
            <div>
              <dt>{t("meters.address")}</dt>
              <dd>
                <AddressText address={state.data.address} />
              </dd>
            </div>
            <div>
              <dt>{t("meters.contract")}</dt>
              <dd>{state.data.contract_number}</dd>
            </div>
            <div>
              <dt>{t("meters.installedOn")}</dt>
              <dd>{date(state.data.installed_on)}</dd>
            </div>
          </dl>
          {state.data.removed_on ? (
            <p className="notice notice-warning">{t("meter.removed", { date: date(state.data.removed_on) })}</p>
          ) : (
            <ReadingForm
              number={number}
              onSaved={() => {
                reload({ quiet: true });
                setSaved((n) => n + 1);
              }}
            />
          )}
          <Consumption number={number} refresh={saved} lastDay={state.data.removed_on} />
          <section>
            <h2 id="readings-heading">{t("meter.readings")}</h2>
            <PagedTable
              caption={t("meter.readingsCaption")}
              empty={t("meter.noReadings")}
              testId="readings-table"
              pageSize={READINGS_PAGE}
              refresh={saved}
              load={(query) =>
                call(api.GET("/api/v1/meters/{meter_number}/readings", { params: { path: { meter_number: number }, query } }))
              }
              rowKey={(reading) => reading.read_at}
              columns={[
                { header: t("meter.readAt"), cell: (reading) => dateTime(reading.read_at) },
                { header: t("meter.value"), numeric: true, cell: (reading) => cubicMetres(reading.value) },
                {
                  header: t("meter.consumption"),
                  numeric: true,
                  cell: (reading) => (reading.consumption == null ? "—" : cubicMetres(reading.consumption)),
                },
                { header: t("meter.source"), cell: (reading) => t(`meter.source.${reading.source}`) },
              ]}
            />
          </section>
        </>
      ) : null}
    </div>
  );
}
