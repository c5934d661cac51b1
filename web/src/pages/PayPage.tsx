import { useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import type { Invoice, PaymentMethod } from "../api/types";
import { FieldErrors, FormAlert, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { invoicePath } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { normalizeDecimal } from "../i18n/format";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call, useLoad, type Outcome } from "../lib/load";
import {
  BANKS,
  METHODS,
  decimal,
  grosze,
  hasDue,
  newAttemptKey,
  onlinePaymentPath,
  returnUrl,
} from "../lib/payments";

const DUE_STATUSES = ["overdue", "unpaid", "partly_paid"] as const;

/** Every invoice with something due (up to 100 of each status), the earliest due first. */
async function loadDue(): Promise<Outcome<Invoice[]>> {
  const pages = await Promise.all(
    DUE_STATUSES.map((status) => call(api.GET("/api/v1/invoices", { params: { query: { status, limit: 100 } } }))),
  );
  const invoices: Invoice[] = [];
  for (const page of pages) {
    if (!page.ok) return page;
    invoices.push(...page.data.items.filter(hasDue));
  }
  invoices.sort((a, b) => a.due_on.localeCompare(b.due_on) || a.invoice_number.localeCompare(b.invoice_number));
  return { ok: true, data: invoices, response: pages[0]!.ok ? pages[0]!.response : new Response() };
}

/** Pay invoices online: which, how much and how; then off to the provider's page. */
export default function PayPage() {
  const { t } = useI18n();
  const [params] = useSearchParams();
  const [state, reload] = useLoad(loadDue, []);
  const named = params.getAll("invoice");
  return (
    <div className="medium">
      <PageHeading>{t("pay.title")}</PageHeading>
      <p>{t("pay.intro")}</p>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.length ? (
          <PayForm invoices={state.data} named={named} />
        ) : (
          <>
            <p className="empty" data-testid="nothing-due">
              {t("pay.nothingDue")}
            </p>
            <p>
              <Link to="/invoices">{t("dashboard.allInvoices")}</Link>
            </p>
          </>
        )
      ) : null}
    </div>
  );
}

function PayForm({ invoices, named }: { invoices: Invoice[]; named: string[] }) {
  const i18n = useI18n();
  const { t, money, date } = i18n;
  const navigate = useNavigate();
  const [chosen, setChosen] = useState<Set<string>>(() => {
    const wanted = invoices.filter((invoice) => named.includes(invoice.invoice_number));
    return new Set((wanted.length ? wanted : invoices).map((invoice) => invoice.invoice_number));
  });
  const due = useMemo(
    () => invoices.filter((i) => chosen.has(i.invoice_number)).reduce((sum, i) => sum + (grosze(i.amount_due) ?? 0), 0),
    [invoices, chosen],
  );
  // The amount follows what is due until the payer types another.
  const [typedAmount, setTypedAmount] = useState<string | null>(null);
  const amountText = typedAmount ?? i18n.number(due / 100, 2);
  const [confirmOver, setConfirmOver] = useState(false);
  const [method, setMethod] = useState<PaymentMethod>("card");
  const [bank, setBank] = useState("");
  const [checked, setChecked] = useState<Map<string, string[]>>(new Map());
  const [failure, setFailure] = useState<Failure | null>(null);
  const [sending, setSending] = useState(false);
  // One Idempotency-Key per attempt: the same attempt sent again (a lost answer, a retry)
  // keeps its key; a changed choice is a new attempt.
  const attempt = useRef<{ key: string; body: string } | null>(null);

  const amount = grosze(normalizeDecimal(amountText));
  const over = amount !== null && amount > due ? amount - due : 0;

  const toggle = (number: string) => {
    setChosen((previous) => {
      const next = new Set(previous);
      if (next.has(number)) next.delete(number);
      else next.add(number);
      return next;
    });
    setConfirmOver(false);
  };

  const validate = (): Map<string, string[]> => {
    const errors = new Map<string, string[]>();
    if (!chosen.size) errors.set("invoices", [t("pay.chooseInvoice")]);
    if (amount === null) errors.set("amount", [t("field.amount.decimal_parsing")]);
    else if (amount < 100) errors.set("amount", [t("pay.amountTooSmall")]);
    else if (over > 0 && !confirmOver) errors.set("confirm_overpayment", [t("pay.confirmOverpaymentMissing")]);
    if (method === "pay-by-link" && !bank) errors.set("bank", [t("pay.chooseBank")]);
    return errors;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    const errors = validate();
    setChecked(errors);
    if (errors.size || amount === null) return;
    const body = {
      invoices: invoices.filter((i) => chosen.has(i.invoice_number)).map((i) => i.invoice_number),
      amount: decimal(amount),
      confirm_overpayment: over > 0,
      method,
      bank: method === "pay-by-link" ? bank : null,
    };
    const text = JSON.stringify(body);
    if (attempt.current?.body !== text) attempt.current = { key: newAttemptKey(), body: text };
    const key = attempt.current.key;
    setSending(true);
    const outcome = await call(
      api.POST("/api/v1/payments", {
        params: { header: { "Idempotency-Key": key } },
        body: { ...body, return_url: returnUrl(key) },
      }),
    );
    if (!outcome.ok) {
      setSending(false);
      setFailure(outcome.failure);
      // A refused attempt is over: the next one takes a new key (a network failure may be
      // sent again as it was).
      if (outcome.failure.status !== 0) attempt.current = null;
      return;
    }
    const payment = outcome.data;
    if (payment.redirect_url && payment.status === "pending") {
      window.location.assign(payment.redirect_url);
      return;
    }
    navigate(onlinePaymentPath(payment.payment_id));
  };

  const apiErrors = describeFieldErrors(i18n, failure);
  const errors = (field: string) => checked.get(field) ?? apiErrors.get(field);
  // Each refusal is shown at its field; the summary says there are some.
  const summary: string[] = checked.size ? [t("problem.validation-failed")] : [];
  if (failure) {
    const code = problemCode(failure);
    summary.push(code === "provider-unavailable" ? t("pay.providerUnavailable") : describeFailure(i18n, failure));
    for (const [field, messages] of apiErrors) {
      if (!["invoices", "amount", "bank", "method"].includes(field)) summary.push(...messages);
    }
  }

  const invoicesError = errors("invoices");
  const amountHint = over > 0 ? t("pay.amountOver", { due: money(decimal(due)) }) : t("pay.amountHint", { due: money(decimal(due)) });
  const overError = errors("confirm_overpayment");

  return (
    <form className="form pay-form" onSubmit={submit} noValidate aria-busy={sending} data-testid="pay-form">
      <FormAlert messages={summary} />
      <fieldset className={invoicesError ? "field-invalid" : undefined} aria-describedby={invoicesError ? "invoices-error" : undefined}>
        <legend>{t("pay.invoices")}</legend>
        <FieldErrors id={invoicesError ? "invoices-error" : undefined} errors={invoicesError} />
        {invoices.map((invoice) => {
          const id = `invoice-${invoice.invoice_number.replace(/[^A-Za-z0-9_-]/g, "_")}`;
          return (
            <div className="choice" key={invoice.invoice_number} data-testid="pay-invoice">
              <input
                type="checkbox"
                id={id}
                checked={chosen.has(invoice.invoice_number)}
                onChange={() => toggle(invoice.invoice_number)}
              />
              <label htmlFor={id}>
                {t("pay.invoiceChoice", {
                  number: invoice.invoice_number,
                  due: money(invoice.amount_due),
                  date: date(invoice.due_on),
                })}
                {invoice.status === "overdue" ? <span className="badge badge-overdue"> {t("invoice.status.overdue")}</span> : null}
              </label>
              <Link className="choice-link" to={invoicePath(invoice.invoice_number)} aria-label={t("pay.invoiceDetails", { number: invoice.invoice_number })}>
                {t("pay.details")}
              </Link>
            </div>
          );
        })}
        <p className="pay-due" data-testid="pay-due">
          {t("pay.dueChosen", { due: money(decimal(due)) })}
        </p>
      </fieldset>

      <TextField
        id="amount"
        label={t("pay.amount")}
        hint={amountHint}
        inputMode="decimal"
        autoComplete="off"
        value={amountText}
        onChange={(event) => {
          setTypedAmount(event.target.value);
          setConfirmOver(false);
        }}
        errors={errors("amount")}
        required
      />
      {over > 0 ? (
        <div className={overError ? "field field-invalid choice" : "field choice"}>
          <input
            type="checkbox"
            id="confirm_overpayment"
            checked={confirmOver}
            onChange={(event) => setConfirmOver(event.target.checked)}
            aria-invalid={overError ? true : undefined}
            aria-describedby={overError ? "confirm_overpayment-error" : undefined}
          />
          <label htmlFor="confirm_overpayment">{t("pay.confirmOverpayment", { extra: money(decimal(over)) })}</label>
          <FieldErrors id={overError ? "confirm_overpayment-error" : undefined} errors={overError} />
        </div>
      ) : null}

      <fieldset>
        <legend>{t("pay.method")}</legend>
        {METHODS.map((value) => (
          <div className="choice" key={value}>
            <input
              type="radio"
              name="method"
              id={`method-${value}`}
              value={value}
              checked={method === value}
              onChange={() => setMethod(value)}
            />
            <label htmlFor={`method-${value}`}>{t(`pay.method.${value}`)}</label>
          </div>
        ))}
      </fieldset>
      {method === "pay-by-link" ? (
        <div className={errors("bank") ? "field field-invalid" : "field"}>
          <label htmlFor="bank">{t("pay.bank")}</label>
          <FieldErrors id={errors("bank") ? "bank-error" : undefined} errors={errors("bank")} />
          <select
            id="bank"
            value={bank}
            onChange={(event) => setBank(event.target.value)}
            aria-invalid={errors("bank") ? true : undefined}
            aria-describedby={errors("bank") ? "bank-error" : undefined}
            required
          >
            <option value="">{t("pay.bankChoose")}</option>
            {BANKS.map((choice) => (
              <option key={choice.id} value={choice.id}>
                {choice.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}

      <p className="hint">{t("pay.redirectNote")}</p>
      <button type="submit" className="button" disabled={sending}>
        {sending ? t("pay.sending") : t("pay.submit", { amount: money(decimal(amount ?? 0)) })}
      </button>
    </form>
  );
}
