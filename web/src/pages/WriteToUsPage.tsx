import { useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import type { Address } from "../api/types";
import { AttachmentPicker, SelectField, TextAreaField, useUploads } from "../components/Cases";
import { FormAlert, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useCasesI18n } from "../i18n/correspondence";
import type { Translate } from "../i18n/messages";
import { describeFailure } from "../i18n/problems";
import { useAccount, useChosenCustomer } from "../lib/account";
import { DATA_FIELDS, KINDS, casePath, newRequestKey, type CaseBody, type CaseKind, type DataField } from "../lib/cases";
import { listFieldErrors } from "../lib/fieldErrors";
import { call, useLoad } from "../lib/load";

export function addressLine(t: Translate, address: Address): string {
  const params = {
    street: address.street,
    building: address.building,
    apartment: address.apartment ?? "",
    postalCode: address.postal_code,
    city: address.city,
  };
  return address.apartment ? t("address.apartment", params) : t("address.plain", params);
}

interface Change {
  on: boolean;
  current: string;
  requested: string;
}

const NO_CHANGES: Record<DataField, Change> = {
  name: { on: false, current: "", requested: "" },
  correspondence_address: { on: false, current: "", requested: "" },
  phone: { on: false, current: "", requested: "" },
  contact_email: { on: false, current: "", requested: "" },
};

/** "Write to us": the kind of case, then its form; files sent as they are chosen. */
export default function WriteToUsPage() {
  const { t } = useCasesI18n();
  const account = useAccount();
  const chosen = useChosenCustomer();
  // A manager with a partial grant writes about the granted properties only: a change of the
  // customer's own data is not theirs to ask for (the API answers 403 partial-scope).
  const partial = account.status === "ok" && account.role === "manager" && chosen?.scope === "partial";
  const kinds = partial ? KINDS.filter((kind) => kind !== "data-change") : KINDS;
  const [kind, setKind] = useState<CaseKind | null>(null);
  return (
    <div className="medium">
      <PageHeading>{t("writeToUs.title")}</PageHeading>
      <p>{t("writeToUs.intro")}</p>
      <p>
        <Link to="/cases">{t("writeToUs.toCases")}</Link>
      </p>
      <fieldset className="kind-choice">
        <legend>{t("writeToUs.kind")}</legend>
        {kinds.map((value) => (
          <div className="choice" key={value}>
            <input type="radio" name="kind" id={`kind-${value}`} value={value} checked={kind === value} onChange={() => setKind(value)} />
            <label htmlFor={`kind-${value}`}>
              {t(`case.kind.${value}`)}
              <span className="hint choice-hint"> — {t(`writeToUs.kindHint.${value}`)}</span>
            </label>
          </div>
        ))}
      </fieldset>
      {partial ? (
        <p className="notice notice-warning" role="note" data-testid="partial-data-change">
          {t("writeToUs.partialNoDataChange")}
        </p>
      ) : null}
      {kind ? <CaseForm key={kind} kind={kind} /> : <p className="hint">{t("writeToUs.chooseKind")}</p>}
    </div>
  );
}

function ServicePointField({ value, onChange, errors }: { value: string; onChange: (value: string) => void; errors?: string[] | undefined }) {
  const { t } = useCasesI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/contracts")), []);
  if (state.status === "loading") return <Loading label={t("writeToUs.loadingPoints")} />;
  if (state.status === "error") return <Failed failure={state.failure} onRetry={reload} />;
  const contracts = state.data.items;
  const active = contracts.filter((contract) => contract.status === "active");
  const points = (active.length ? active : contracts).flatMap((contract) => contract.service_points);
  if (!points.length) return <p className="empty">{t("writeToUs.noPoints")}</p>;
  return (
    <SelectField
      id="service_point_id"
      label={t("writeToUs.servicePoint")}
      errors={errors}
      value={value}
      onChange={onChange}
      placeholder={t("writeToUs.servicePointChoose")}
      choices={points.map((point) => ({ value: point.service_point_id, label: addressLine(t, point.address) }))}
    />
  );
}

function InvoiceField({ value, onChange, errors }: { value: string; onChange: (value: string) => void; errors?: string[] | undefined }) {
  const { t, money, date } = useCasesI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/invoices", { params: { query: { limit: 100 } } })), []);
  if (state.status === "loading") return <Loading label={t("writeToUs.loadingInvoices")} />;
  if (state.status === "error") return <Failed failure={state.failure} onRetry={reload} />;
  if (!state.data.items.length) return <p className="empty">{t("writeToUs.noInvoices")}</p>;
  return (
    <SelectField
      id="invoice_number"
      label={t("writeToUs.invoice")}
      errors={errors}
      value={value}
      onChange={onChange}
      placeholder={t("writeToUs.invoiceChoose")}
      choices={state.data.items.map((invoice) => ({
        value: invoice.invoice_number,
        label: t("writeToUs.invoiceChoice", { number: invoice.invoice_number, date: date(invoice.issued_on), amount: money(invoice.gross) }),
      }))}
    />
  );
}

function CaseForm({ kind }: { kind: CaseKind }) {
  const i18n = useCasesI18n();
  const { t } = i18n;
  const navigate = useNavigate();
  const uploads = useUploads();
  const [place, setPlace] = useState<"point" | "address">("point");
  const [servicePoint, setServicePoint] = useState("");
  const [location, setLocation] = useState("");
  const [description, setDescription] = useState("");
  const [since, setSince] = useState("");
  const [subject, setSubject] = useState("");
  const [invoice, setInvoice] = useState("");
  const [reason, setReason] = useState("");
  const [changes, setChanges] = useState<Record<DataField, Change>>(NO_CHANGES);
  const [comment, setComment] = useState("");
  const [checked, setChecked] = useState<Map<string, string[]>>(new Map());
  const [failure, setFailure] = useState<Failure | null>(null);
  const [sending, setSending] = useState(false);
  const sendingRef = useRef(false);
  // One Idempotency-Key per form as sent: a repeat of the same (a double click, a retry after a
  // lost answer) keeps it and makes one case; a changed form is a new request.
  const attempt = useRef<{ key: string; body: string } | null>(null);

  const chosenFields = DATA_FIELDS.filter((field) => changes[field].on);
  const setChange = (field: DataField, change: Partial<Change>) =>
    setChanges((all) => ({ ...all, [field]: { ...all[field], ...change } }));

  const validate = (): Map<string, string[]> => {
    const errors = new Map<string, string[]>();
    const need = (field: string, value: string, message: Parameters<typeof t>[0] = "writeToUs.required") => {
      if (!value.trim()) errors.set(field, [t(message)]);
    };
    if (kind === "failure") {
      if (place === "point") need("service_point_id", servicePoint, "writeToUs.servicePointMissing");
      else need("location", location);
    }
    if (kind === "water-quality") need("service_point_id", servicePoint, "writeToUs.servicePointMissing");
    if (kind === "billing-complaint") {
      need("invoice_number", invoice, "writeToUs.invoiceMissing");
      need("reason", reason);
    }
    if (kind === "question") need("subject", subject);
    if (kind === "failure" || kind === "water-quality" || kind === "question") need("description", description);
    if (kind === "data-change") {
      if (!chosenFields.length) errors.set("changes", [t("writeToUs.changeMissing")]);
      chosenFields.forEach((field, index) => need(`changes.${index}.requested`, changes[field].requested));
    }
    return errors;
  };

  const body = (): CaseBody => {
    const attachment_ids = uploads.ids;
    switch (kind) {
      case "failure":
        return {
          kind,
          service_point_id: place === "point" ? servicePoint : null,
          location: place === "point" ? null : location.trim(),
          description: description.trim(),
          since: since || null,
          attachment_ids,
        };
      case "water-quality":
        return { kind, service_point_id: servicePoint, description: description.trim(), attachment_ids };
      case "billing-complaint":
        return { kind, invoice_number: invoice, reason: reason.trim(), attachment_ids };
      case "question":
        return { kind, subject: subject.trim(), description: description.trim(), attachment_ids };
      case "data-change":
        return {
          kind,
          changes: chosenFields.map((field) => ({
            field,
            current: changes[field].current.trim() || null,
            requested: changes[field].requested.trim(),
          })),
          comment: comment.trim() || null,
          attachment_ids,
        };
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (sendingRef.current) return;
    setFailure(null);
    const errors = validate();
    if (uploads.busy) errors.set("attachments", [t("attachments.wait")]);
    setChecked(errors);
    if (errors.size) return;
    const payload = body();
    const text = JSON.stringify(payload);
    if (attempt.current?.body !== text) attempt.current = { key: newRequestKey(), body: text };
    sendingRef.current = true;
    setSending(true);
    const outcome = await call(
      api.POST("/api/v1/cases", { params: { header: { "Idempotency-Key": attempt.current.key } }, body: payload }),
    );
    sendingRef.current = false;
    setSending(false);
    if (!outcome.ok) {
      setFailure(outcome.failure);
      // A refused request is over: the next one takes a new key (a network failure is sent
      // again as it was, with its key).
      if (outcome.failure.status !== 0) attempt.current = null;
      return;
    }
    navigate(casePath(outcome.data.number), { state: { sent: true } });
  };

  // The API's field errors, by path (a union's member may prefix it with the kind).
  const apiErrors = new Map<string, string[]>();
  for (const [field, messages] of listFieldErrors(i18n, failure)) {
    const path = field.startsWith(`${kind}.`) ? field.slice(kind.length + 1) : field;
    apiErrors.set(path, [...(apiErrors.get(path) ?? []), ...messages]);
  }
  const shown = new Set<string>();
  const errors = (field: string): string[] | undefined => {
    shown.add(field);
    return checked.get(field) ?? apiErrors.get(field);
  };

  const descriptionLabel = kind === "question" ? t("writeToUs.question") : t("writeToUs.description");
  const form = (
    <>
      {kind === "failure" ? (
        <>
          <fieldset>
            <legend>{t("writeToUs.where")}</legend>
            <div className="choice">
              <input type="radio" name="place" id="place-point" checked={place === "point"} onChange={() => setPlace("point")} />
              <label htmlFor="place-point">{t("writeToUs.placePoint")}</label>
            </div>
            <div className="choice">
              <input type="radio" name="place" id="place-address" checked={place === "address"} onChange={() => setPlace("address")} />
              <label htmlFor="place-address">{t("writeToUs.placeAddress")}</label>
            </div>
          </fieldset>
          {place === "point" ? (
            <ServicePointField value={servicePoint} onChange={setServicePoint} errors={errors("service_point_id")} />
          ) : (
            <TextField
              id="location"
              label={t("writeToUs.location")}
              hint={t("writeToUs.locationHint")}
              value={location}
              onChange={(event) => setLocation(event.target.value)}
              errors={errors("location")}
              maxLength={500}
              required
            />
          )}
        </>
      ) : null}
      {kind === "water-quality" ? (
        <ServicePointField value={servicePoint} onChange={setServicePoint} errors={errors("service_point_id")} />
      ) : null}
      {kind === "billing-complaint" ? (
        <>
          <InvoiceField value={invoice} onChange={setInvoice} errors={errors("invoice_number")} />
          <TextAreaField id="reason" label={t("writeToUs.reason")} hint={t("writeToUs.reasonHint")} value={reason} onChange={setReason} errors={errors("reason")} maxLength={5000} />
        </>
      ) : null}
      {kind === "question" ? (
        <TextField id="subject" label={t("writeToUs.subject")} value={subject} onChange={(event) => setSubject(event.target.value)} errors={errors("subject")} maxLength={200} required />
      ) : null}
      {kind === "failure" || kind === "water-quality" || kind === "question" ? (
        <TextAreaField
          id="description"
          label={descriptionLabel}
          hint={kind === "question" ? undefined : t(kind === "failure" ? "writeToUs.descriptionHint" : "writeToUs.waterHint")}
          value={description}
          onChange={setDescription}
          errors={errors("description")}
          maxLength={5000}
        />
      ) : null}
      {kind === "failure" ? (
        <TextField id="since" type="date" label={t("writeToUs.since")} optional value={since} onChange={(event) => setSince(event.target.value)} errors={errors("since")} />
      ) : null}
      {kind === "data-change" ? (
        <>
          <fieldset className={errors("changes") ? "field-invalid" : undefined} aria-describedby={errors("changes") ? "changes-error" : "changes-hint"}>
            <legend>{t("writeToUs.changes")}</legend>
            <p className="hint" id="changes-hint">
              {t("writeToUs.changesHint")}
            </p>
            {errors("changes") ? (
              <div className="field-error" id="changes-error">
                {errors("changes")!.map((error) => (
                  <p key={error}>{error}</p>
                ))}
              </div>
            ) : null}
            {DATA_FIELDS.map((field) => {
              const index = chosenFields.indexOf(field);
              return (
                <div key={field} className="data-change">
                  <div className="choice">
                    <input type="checkbox" id={`change-${field}`} checked={changes[field].on} onChange={(event) => setChange(field, { on: event.target.checked })} />
                    <label htmlFor={`change-${field}`}>{t(`case.field.${field}`)}</label>
                  </div>
                  {changes[field].on ? (
                    <div className="data-change-values">
                      <TextField
                        id={`change-${field}-current`}
                        label={t("writeToUs.current")}
                        optional
                        value={changes[field].current}
                        onChange={(event) => setChange(field, { current: event.target.value })}
                        errors={errors(`changes.${index}.current`)}
                        maxLength={500}
                      />
                      <TextField
                        id={`change-${field}-requested`}
                        label={t("writeToUs.requested")}
                        type={field === "contact_email" ? "email" : field === "phone" ? "tel" : "text"}
                        value={changes[field].requested}
                        onChange={(event) => setChange(field, { requested: event.target.value })}
                        errors={errors(`changes.${index}.requested`)}
                        maxLength={500}
                        required
                      />
                    </div>
                  ) : null}
                </div>
              );
            })}
          </fieldset>
          <p className="hint">{t("writeToUs.dataChangeNote")}</p>
          <TextAreaField id="comment" label={t("writeToUs.comment")} optional value={comment} onChange={setComment} errors={errors("comment")} rows={3} maxLength={5000} />
        </>
      ) : null}
      <AttachmentPicker id="attachments" uploads={uploads} errors={errors("attachment_ids") ?? errors("attachments")} />
    </>
  );

  // Refusals at their fields; the summary says there are some and names the rest.
  const summary: string[] = checked.size ? [t("problem.validation-failed")] : [];
  if (failure) {
    const code = problemCode(failure);
    summary.push(code === "idempotency-key-reused" ? t("writeToUs.keyReused") : describeFailure(i18n, failure));
    for (const [field, messages] of apiErrors) if (!shown.has(field)) summary.push(...messages);
  }

  return (
    <form className="form case-form" onSubmit={submit} noValidate aria-busy={sending} data-testid="case-form">
      <h2>{t(`case.kind.${kind}`)}</h2>
      <FormAlert messages={summary} />
      {form}
      <button type="submit" className="button" disabled={sending} aria-disabled={uploads.busy || undefined}>
        {sending ? t("common.sending") : t("writeToUs.submit")}
      </button>
    </form>
  );
}
