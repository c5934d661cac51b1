import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import { CaptchaFieldset, spentCaptcha, useCaptcha } from "../components/Captcha";
import { FormAlert, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { TermsFieldset } from "../components/Terms";
import { normalizeDecimal } from "../i18n/format";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call, useLoad } from "../lib/load";

/** Fields the form shows; an error for any other field goes to the summary. */
const SHOWN = ["invoice_number", "invoice_amount", "email", "phone", "accept_terms", "terms_version", "captcha_answer", "captcha_id"];

export default function RegisterPage() {
  const i18n = useI18n();
  const { t, language } = i18n;
  const navigate = useNavigate();
  // The regulations in the language of the page: switching the language fetches them again.
  const [terms, reloadTerms] = useLoad(
    () => call(api.GET("/api/v1/terms", { params: { query: { language } } })),
    [language],
  );
  const captcha = useCaptcha();
  const [form, setForm] = useState({ invoice_number: "", invoice_amount: "", email: "", phone: "" });
  const [accepted, setAccepted] = useState(false);
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  const set = (name: keyof typeof form) => (event: { target: { value: string } }) =>
    setForm((previous) => ({ ...previous, [name]: event.target.value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(
      api.POST("/api/v1/registrations", {
        body: {
          invoice_number: form.invoice_number.trim(),
          invoice_amount: normalizeDecimal(form.invoice_amount),
          email: form.email.trim(),
          phone: form.phone.trim() || null,
          accept_terms: accepted,
          terms_version: terms.status === "ok" ? terms.data.version : "",
          ...captcha.fields(),
          language,
        },
      }),
    );
    setSending(false);
    if (outcome.ok) {
      navigate("/register/sent", { state: { email: form.email.trim() } });
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

  const errors = describeFieldErrors(i18n, failure);
  if (failure && problemCode(failure) === "captcha-failed" && !errors.has("captcha_answer")) {
    errors.set("captcha_answer", [t("field.captcha_failed")]);
  }
  const summary: string[] = [];
  if (failure) {
    summary.push(describeFailure(i18n, failure));
    for (const [field, messages] of errors) {
      if (!SHOWN.includes(field)) summary.push(...messages);
    }
  }
  const termsErrors = [...(errors.get("accept_terms") ?? []), ...(errors.get("terms_version") ?? [])];
  const captchaErrors = [...(errors.get("captcha_answer") ?? []), ...(errors.get("captcha_id") ?? [])];

  return (
    <div className="medium">
      <PageHeading>{t("register.title")}</PageHeading>
      <p>{t("register.intro")}</p>
      <form className="form" onSubmit={submit} noValidate aria-busy={sending}>
        <FormAlert messages={summary} />
        <fieldset>
          <legend>{t("register.invoiceHeading")}</legend>
          <TextField
            id="invoice_number"
            label={t("register.invoiceNumber")}
            hint={t("register.invoiceNumberHint")}
            value={form.invoice_number}
            onChange={set("invoice_number")}
            errors={errors.get("invoice_number")}
            autoComplete="off"
            spellCheck={false}
            required
          />
          <TextField
            id="invoice_amount"
            label={t("register.invoiceAmount")}
            hint={t("register.invoiceAmountHint")}
            inputMode="decimal"
            value={form.invoice_amount}
            onChange={set("invoice_amount")}
            errors={errors.get("invoice_amount")}
            autoComplete="off"
            required
          />
        </fieldset>
        <fieldset>
          <legend>{t("register.contactHeading")}</legend>
          <TextField
            id="email"
            type="email"
            label={t("register.email")}
            hint={t("register.emailHint")}
            value={form.email}
            onChange={set("email")}
            errors={errors.get("email")}
            autoComplete="email"
            required
          />
          <TextField
            id="phone"
            type="tel"
            label={t("register.phone")}
            optional
            value={form.phone}
            onChange={set("phone")}
            errors={errors.get("phone")}
            autoComplete="tel"
          />
          <p className="hint">{t("register.language", { language: t(`lang.${language}`) })}</p>
        </fieldset>

        <TermsFieldset terms={terms} reload={reloadTerms} accepted={accepted} setAccepted={setAccepted} errors={termsErrors} />

        <CaptchaFieldset control={captcha} errors={captchaErrors} />
        <button type="submit" className="button" disabled={sending}>
          {sending ? t("register.submitting") : t("register.submit")}
        </button>
      </form>
      <p className="aside">
        {t("register.haveAccount")} <Link to="/login">{t("nav.signIn")}</Link>
      </p>
    </div>
  );
}
