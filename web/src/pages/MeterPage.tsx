import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import type { Meter, Reading } from "../api/types";
import { Consumption } from "../components/Consumption";
import { FormAlert, Notice, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Pager } from "../components/Pager";
import { Failed, Loading } from "../components/Status";
import { AddressText } from "../components/Views";
import { normalizeDecimal } from "../i18n/format";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call, useLoad, type Outcome } from "../lib/load";
import { usePage } from "../lib/paging";
import { NotFound } from "./NotFoundPage";

/** "2026-11-24T08:30" in the browser's time zone, for a datetime-local input. */
function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

interface MeterData {
  meter: Meter | null;
  readings: Reading[];
}

const READINGS_PAGE = 1000;
const MAX_PAGES = 20;
const TABLE_PAGE = 31;

/** Every reading since the contract date, page after page. */
async function loadReadings(number: string): Promise<Outcome<Reading[]>> {
  const readings: Reading[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const outcome = await call(
      api.GET("/api/v1/meters/{meter_number}/readings", {
        params: { path: { meter_number: number }, query: { page, page_size: READINGS_PAGE } },
      }),
    );
    if (!outcome.ok) return outcome;
    readings.push(...outcome.data.items);
    if (readings.length >= outcome.data.total || !outcome.data.items.length) {
      return { ok: true, data: readings, response: outcome.response };
    }
  }
  return { ok: true, data: readings, response: new Response() };
}

async function loadMeter(number: string): Promise<Outcome<MeterData>> {
  const [meters, readings] = await Promise.all([call(api.GET("/api/v1/meters")), loadReadings(number)]);
  if (!readings.ok) return readings;
  if (!meters.ok) return meters;
  return {
    ok: true,
    response: readings.response,
    data: {
      meter: meters.data.items.find((m) => m.meter_number === number) ?? null,
      readings: readings.data,
    },
  };
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
  // Bumped when a reading is saved: the consumption chart loads again.
  const [saved, setSaved] = useState(0);
  const [page, setPage] = usePage();
  const readings = state.status === "ok" ? state.data.readings : [];
  const pages = Math.max(1, Math.ceil(readings.length / TABLE_PAGE));
  const shown = readings.slice((Math.min(page, pages) - 1) * TABLE_PAGE, Math.min(page, pages) * TABLE_PAGE);

  if (state.status === "error" && state.failure.status === 404) {
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
      {state.status === "ok" ? (
        <>
          {state.data.meter ? (
            <dl className="facts facts-columns">
              <div>
                <dt>{t("meters.address")}</dt>
                <dd>
                  <AddressText address={state.data.meter.address} />
                </dd>
              </div>
              <div>
                <dt>{t("meters.contract")}</dt>
                <dd>{state.data.meter.contract_number}</dd>
              </div>
              <div>
                <dt>{t("meters.installedOn")}</dt>
                <dd>{date(state.data.meter.installed_on)}</dd>
              </div>
            </dl>
          ) : null}
          {state.data.meter?.removed_on ? (
            <p className="notice notice-warning">{t("meter.removed", { date: date(state.data.meter.removed_on) })}</p>
          ) : (
            <ReadingForm
              number={number}
              onSaved={() => {
                reload({ quiet: true });
                setSaved((n) => n + 1);
              }}
            />
          )}
          <Consumption number={number} refresh={saved} lastDay={state.data.meter?.removed_on} />
          <section>
            <h2 id="readings-heading">{t("meter.readings")}</h2>
            {readings.length ? (
              <div className="table-wrap" role="region" aria-labelledby="readings-heading" tabIndex={0}>
                <table data-testid="readings-table">
                  <caption className="visually-hidden">{t("meter.readingsCaption")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("meter.readAt")}</th>
                      <th scope="col" className="num">{t("meter.value")}</th>
                      <th scope="col" className="num">{t("meter.consumption")}</th>
                      <th scope="col">{t("meter.source")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((reading) => (
                      <tr key={reading.read_at}>
                        <th scope="row">{dateTime(reading.read_at)}</th>
                        <td className="num">{cubicMetres(reading.value)}</td>
                        <td className="num">{reading.consumption == null ? "—" : cubicMetres(reading.consumption)}</td>
                        <td>{t(`meter.source.${reading.source}`)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
            {readings.length > TABLE_PAGE ? (
              <Pager page={Math.min(page, pages)} pageSize={TABLE_PAGE} total={readings.length} onPage={setPage} />
            ) : null}
            {readings.length ? null : (
              <p>{t("meter.noReadings")}</p>
            )}
          </section>
        </>
      ) : null}
    </div>
  );
}
