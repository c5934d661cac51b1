import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import { CaptchaFieldset, spentCaptcha, useCaptcha } from "../components/Captcha";
import { FieldErrors, FormAlert, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { TermsFieldset } from "../components/Terms";
import { normalizeDecimal } from "../i18n/format";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";
import { listFieldErrors } from "../lib/fieldErrors";
import { call, useLoad } from "../lib/load";

type Proof = "contract" | "invoice";
type Scope = "full" | "partial";

interface PropertyForm {
  key: number;
  street: string;
  building: string;
  apartment: string;
  postal_code: string;
  city: string;
  proof: Proof;
  contract_number: string;
  invoice_number: string;
  invoice_amount: string;
  scope: Scope;
}

const COMPANY_FIELDS = ["company", "nip", "contact_person", "email", "phone"] as const;
type CompanyField = (typeof COMPANY_FIELDS)[number];
const ADDRESS_FIELDS = ["street", "building", "apartment", "postal_code", "city"] as const;

let nextKey = 1;
function emptyProperty(): PropertyForm {
  return {
    key: nextKey++,
    street: "",
    building: "",
    apartment: "",
    postal_code: "",
    city: "",
    proof: "contract",
    contract_number: "",
    invoice_number: "",
    invoice_amount: "",
    scope: "full",
  };
}

/** A radio button with its label. */
export function Choice({
  name,
  value,
  checked,
  onChange,
  label,
  describedBy,
}: {
  name: string;
  value: string;
  checked: boolean;
  onChange: () => void;
  label: string;
  describedBy?: string | undefined;
}) {
  const id = `${name}-${value}`;
  return (
    <div className="field checkbox">
      <input type="radio" id={id} name={name} value={value} checked={checked} onChange={onChange} aria-describedby={describedBy} />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

export default function ManagerRequestPage() {
  const i18n = useI18n();
  const { t, language } = i18n;
  const navigate = useNavigate();
  const [terms, reloadTerms] = useLoad(
    () => call(api.GET("/api/v1/terms", { params: { query: { language } } })),
    [language],
  );
  const captcha = useCaptcha();
  const [company, setCompany] = useState<Record<CompanyField, string>>({
    company: "",
    nip: "",
    contact_person: "",
    email: "",
    phone: "",
  });
  const [properties, setProperties] = useState<PropertyForm[]>(() => [emptyProperty()]);
  const [accepted, setAccepted] = useState(false);
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  const setField = (name: CompanyField) => (event: { target: { value: string } }) =>
    setCompany((previous) => ({ ...previous, [name]: event.target.value }));
  const setProperty = (index: number, change: Partial<PropertyForm>) =>
    setProperties((previous) => previous.map((item, at) => (at === index ? { ...item, ...change } : item)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(
      api.POST("/api/v1/manager-requests", {
        body: {
          company: company.company.trim(),
          nip: company.nip.trim(),
          contact_person: company.contact_person.trim(),
          email: company.email.trim(),
          phone: company.phone.trim(),
          properties: properties.map((item) => ({
            address: {
              street: item.street.trim(),
              building: item.building.trim(),
              apartment: item.apartment.trim() || null,
              postal_code: item.postal_code.trim(),
              city: item.city.trim(),
            },
            contract_number: item.proof === "contract" ? item.contract_number.trim() || null : null,
            invoice_number: item.proof === "invoice" ? item.invoice_number.trim() || null : null,
            invoice_amount: item.proof === "invoice" && item.invoice_amount.trim() ? normalizeDecimal(item.invoice_amount) : null,
            scope: item.scope,
          })),
          accept_terms: accepted,
          terms_version: terms.status === "ok" ? terms.data.version : "",
          ...captcha.fields(),
          language,
        },
      }),
    );
    setSending(false);
    if (outcome.ok) {
      navigate("/manager-request/sent", { state: { reference: outcome.data.reference, email: company.email.trim() } });
      return;
    }
    setFailure(outcome.failure);
    const code = problemCode(outcome.failure);
    if (code === "terms-outdated") {
      setAccepted(false);
      reloadTerms();
    }
    if (spentCaptcha(code, outcome.failure.status)) void captcha.renew();
  };

  const errors = listFieldErrors(i18n, failure);
  if (failure && problemCode(failure) === "captcha-failed" && !errors.has("captcha_answer")) {
    errors.set("captcha_answer", [t("field.captcha_failed")]);
  }
  const shown = new Set<string>([...COMPANY_FIELDS, "accept_terms", "terms_version", "captcha_answer", "captcha_id"]);
  properties.forEach((_, index) => {
    shown.add(`properties.${index}`);
    for (const name of ["contract_number", "invoice_number", "invoice_amount", "scope"]) shown.add(`properties.${index}.${name}`);
    for (const name of ADDRESS_FIELDS) shown.add(`properties.${index}.address.${name}`);
  });
  const summary: string[] = [];
  if (failure) {
    summary.push(describeFailure(i18n, failure));
    for (const [field, messages] of errors) {
      if (!shown.has(field)) summary.push(...messages);
    }
  }
  const termsErrors = [...(errors.get("accept_terms") ?? []), ...(errors.get("terms_version") ?? [])];
  const captchaErrors = [...(errors.get("captcha_answer") ?? []), ...(errors.get("captcha_id") ?? [])];

  return (
    <div className="medium">
      <PageHeading>{t("managerRequest.title")}</PageHeading>
      <p>{t("managerRequest.intro")}</p>
      <form className="form" onSubmit={submit} noValidate aria-busy={sending}>
        <FormAlert messages={summary} />
        <fieldset>
          <legend>{t("managerRequest.companyHeading")}</legend>
          <TextField id="company" label={t("managerRequest.company")} value={company.company} onChange={setField("company")} errors={errors.get("company")} autoComplete="organization" required />
          <TextField id="nip" label={t("managerRequest.nip")} hint={t("managerRequest.nipHint")} inputMode="numeric" value={company.nip} onChange={setField("nip")} errors={errors.get("nip")} autoComplete="off" required />
          <TextField id="contact_person" label={t("managerRequest.contactPerson")} value={company.contact_person} onChange={setField("contact_person")} errors={errors.get("contact_person")} autoComplete="name" required />
          <TextField id="email" type="email" label={t("register.email")} hint={t("managerRequest.emailHint")} value={company.email} onChange={setField("email")} errors={errors.get("email")} autoComplete="email" required />
          <TextField id="phone" type="tel" label={t("register.phone")} value={company.phone} onChange={setField("phone")} errors={errors.get("phone")} autoComplete="tel" required />
          <p className="hint">{t("register.language", { language: t(`lang.${language}`) })}</p>
        </fieldset>

        {properties.map((item, index) => {
          const base = `p${index}`;
          const path = `properties.${index}`;
          const proofErrors = errors.get(path);
          const proofErrorId = proofErrors?.length ? `${base}-proof-error` : undefined;
          return (
            <fieldset key={item.key} data-testid="property-fieldset">
              <legend>{t("managerRequest.property", { number: index + 1 })}</legend>
              {ADDRESS_FIELDS.map((name) => (
                <TextField
                  key={name}
                  id={`${base}-${name}`}
                  label={t(`managerRequest.${name}`)}
                  optional={name === "apartment"}
                  hint={name === "postal_code" ? t("managerRequest.postal_codeHint") : undefined}
                  value={item[name]}
                  onChange={(event) => setProperty(index, { [name]: event.target.value })}
                  errors={errors.get(`${path}.address.${name}`)}
                  autoComplete="off"
                  required={name !== "apartment"}
                />
              ))}
              <fieldset className="choices">
                <legend>{t("managerRequest.proof")}</legend>
                <FieldErrors id={proofErrorId} errors={proofErrors} />
                <Choice name={`${base}-proof`} value="contract" checked={item.proof === "contract"} onChange={() => setProperty(index, { proof: "contract" })} label={t("managerRequest.proofContract")} describedBy={proofErrorId} />
                <Choice name={`${base}-proof`} value="invoice" checked={item.proof === "invoice"} onChange={() => setProperty(index, { proof: "invoice" })} label={t("managerRequest.proofInvoice")} describedBy={proofErrorId} />
              </fieldset>
              {item.proof === "contract" ? (
                <TextField id={`${base}-contract_number`} label={t("managerRequest.contractNumber")} value={item.contract_number} onChange={(event) => setProperty(index, { contract_number: event.target.value })} errors={errors.get(`${path}.contract_number`)} autoComplete="off" spellCheck={false} required />
              ) : (
                <>
                  <TextField id={`${base}-invoice_number`} label={t("register.invoiceNumber")} hint={t("register.invoiceNumberHint")} value={item.invoice_number} onChange={(event) => setProperty(index, { invoice_number: event.target.value })} errors={errors.get(`${path}.invoice_number`)} autoComplete="off" spellCheck={false} required />
                  <TextField id={`${base}-invoice_amount`} label={t("register.invoiceAmount")} hint={t("register.invoiceAmountHint")} inputMode="decimal" value={item.invoice_amount} onChange={(event) => setProperty(index, { invoice_amount: event.target.value })} errors={errors.get(`${path}.invoice_amount`)} autoComplete="off" required />
                </>
              )}
              <fieldset className="choices">
                <legend>{t("managerRequest.scope")}</legend>
                <Choice name={`${base}-scope`} value="full" checked={item.scope === "full"} onChange={() => setProperty(index, { scope: "full" })} label={t("scope.fullLong")} />
                <Choice name={`${base}-scope`} value="partial" checked={item.scope === "partial"} onChange={() => setProperty(index, { scope: "partial" })} label={t("scope.partialLong")} />
              </fieldset>
              {properties.length > 1 ? (
                <p>
                  <button type="button" className="button button-secondary" onClick={() => setProperties((previous) => previous.filter((_, at) => at !== index))}>
                    {t("managerRequest.removeProperty", { number: index + 1 })}
                  </button>
                </p>
              ) : null}
            </fieldset>
          );
        })}
        <p>
          <button type="button" className="button button-secondary" onClick={() => setProperties((previous) => [...previous, emptyProperty()])}>
            {t("managerRequest.addProperty")}
          </button>
        </p>

        <TermsFieldset terms={terms} reload={reloadTerms} accepted={accepted} setAccepted={setAccepted} errors={termsErrors} />
        <CaptchaFieldset control={captcha} errors={captchaErrors} />
        <button type="submit" className="button" disabled={sending}>
          {sending ? t("register.submitting") : t("managerRequest.submit")}
        </button>
      </form>
      <p className="aside">
        {t("register.haveAccount")} <Link to="/login">{t("nav.signIn")}</Link>
      </p>
    </div>
  );
}
