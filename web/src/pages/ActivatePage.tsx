import { useEffect, useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import { CaptchaFieldset, spentCaptcha, useCaptcha } from "../components/Captcha";
import { FormAlert, Notice, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call, type Outcome } from "../lib/load";

/** The token of `/activate#token=…` (the emailed link) or of `/activate?token=…` (older links). */
export function tokenFrom(hash: string, search: string): string | null {
  const fromHash = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  const fromQuery = new URLSearchParams(search).get("token");
  return fromHash || fromQuery || null;
}

// One POST per token and page load: a second one (React's development double effects, a
// re-render) would find the link already used.
const activations = new Map<string, Promise<Outcome<unknown>>>();

function activate(token: string): Promise<Outcome<unknown>> {
  let pending = activations.get(token);
  if (!pending) {
    pending = call(api.POST("/api/v1/registrations/activate", { body: { token } }));
    activations.set(token, pending);
  }
  return pending;
}

type Result = { status: "working" } | { status: "done" } | { status: "failed"; failure: Failure } | { status: "no-token" };

const NEW_LINK_CODES = new Set([
  "activation-link-used",
  "activation-link-expired",
  "activation-link-superseded",
  "activation-link-invalid",
]);

export function NewLinkForm() {
  const i18n = useI18n();
  const { t } = i18n;
  const [invoiceNumber, setInvoiceNumber] = useState("");
  const [email, setEmail] = useState("");
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [sent, setSent] = useState(false);
  const captcha = useCaptcha();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(
      api.POST("/api/v1/registrations/activation-links", {
        body: { invoice_number: invoiceNumber.trim(), email: email.trim(), ...captcha.fields() },
      }),
    );
    setSending(false);
    if (outcome.ok) {
      setSent(true);
      return;
    }
    setFailure(outcome.failure);
    if (spentCaptcha(problemCode(outcome.failure), outcome.failure.status)) void captcha.renew();
  };
  const errors = describeFieldErrors(i18n, failure);
  const captchaErrors = [...(errors.get("captcha_answer") ?? []), ...(errors.get("captcha_id") ?? [])];
  if (failure && problemCode(failure) === "captcha-failed" && !captchaErrors.length) {
    captchaErrors.push(t("field.captcha_failed"));
  }

  return (
    <section className="card">
      <h2 id="new-link-heading">{t("activate.newLinkHeading")}</h2>
      {sent ? (
        <Notice tone="success">{t("activate.newLinkSent")}</Notice>
      ) : (
        <>
          <p>{t("activate.newLinkIntro")}</p>
          <form className="form" onSubmit={submit} noValidate aria-busy={sending}>
            <FormAlert messages={failure ? [describeFailure(i18n, failure)] : []} />
            <TextField
              id="invoice_number"
              label={t("register.invoiceNumber")}
              hint={t("register.invoiceNumberHint")}
              value={invoiceNumber}
              onChange={(event) => setInvoiceNumber(event.target.value)}
              errors={errors.get("invoice_number")}
              autoComplete="off"
              required
            />
            <TextField
              id="email"
              type="email"
              label={t("register.email")}
              value={email}
              onChange={(event) => setEmail(event.target.value)}
              errors={errors.get("email")}
              autoComplete="email"
              required
            />
            <CaptchaFieldset control={captcha} errors={captchaErrors} />
            <button type="submit" className="button" disabled={sending}>
              {sending ? t("common.sending") : t("activate.newLinkSubmit")}
            </button>
          </form>
        </>
      )}
    </section>
  );
}

export default function ActivatePage() {
  const i18n = useI18n();
  const { t } = i18n;
  const location = useLocation();
  const navigate = useNavigate();
  // Read once, at the first render: the address bar loses the token right after.
  const [token, setToken] = useState(() => tokenFrom(location.hash, location.search));
  const [result, setResult] = useState<Result>(() => (token ? { status: "working" } : { status: "no-token" }));
  const [attempt, setAttempt] = useState(0);
  const askedForNewLink = Boolean((location.state as { newLink?: boolean } | null)?.newLink);

  useEffect(() => {
    // Another link opened in the same tab changes only the fragment: read its token too.
    const next = tokenFrom(location.hash, location.search);
    if (next && next !== token) setToken(next);
    if (location.hash || location.search) {
      navigate({ pathname: "/activate", search: "", hash: "" }, { replace: true, state: location.state });
    }
  }, [location.hash, location.search, location.state, navigate, token]);

  useEffect(() => {
    if (!token) return;
    let current = true;
    setResult({ status: "working" });
    void activate(token).then((outcome) => {
      if (!current) return;
      setResult(outcome.ok ? { status: "done" } : { status: "failed", failure: outcome.failure });
    });
    return () => {
      current = false;
    };
  }, [token, attempt]);

  const retry = () => {
    if (token) activations.delete(token);
    setAttempt((n) => n + 1);
  };

  const code = result.status === "failed" ? problemCode(result.failure) : null;
  const offerNewLink = result.status === "no-token" || (code !== null && NEW_LINK_CODES.has(code));
  const canRetry = result.status === "failed" && (result.failure.status === 0 || result.failure.status >= 500);

  return (
    <div className="narrow">
      <PageHeading>{t("activate.title")}</PageHeading>
      {result.status === "working" ? <Loading label={t("activate.working")} /> : null}
      {result.status === "done" ? (
        <>
          <Notice tone="success">
            <p>
              <strong>{t("activate.done")}</strong>
            </p>
            <p>{t("activate.next")}</p>
          </Notice>
          <p>
            <Link className="button" to="/login">
              {t("activate.toLogin")}
            </Link>
          </p>
        </>
      ) : null}
      {result.status === "no-token" && !askedForNewLink ? <p>{t("activate.noToken")}</p> : null}
      {result.status === "failed" && canRetry ? <Failed failure={result.failure} onRetry={retry} /> : null}
      {result.status === "failed" && !canRetry ? (
        <div className="failure" role="alert">
          <p>{describeFailure(i18n, result.failure)}</p>
          {code === "already-activated" || code === "activation-link-used" ? (
            <p>
              <Link className="button" to="/login">
                {t("activate.toLogin")}
              </Link>
            </p>
          ) : null}
        </div>
      ) : null}
      {offerNewLink ? <NewLinkForm /> : null}
    </div>
  );
}
