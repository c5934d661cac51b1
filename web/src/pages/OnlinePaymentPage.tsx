import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import type { OnlinePayment } from "../api/types";
import { FormAlert } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { PaymentStatusBadge } from "../components/PaymentStatusBadge";
import { Failed, Loading } from "../components/Status";
import { invoicePath } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";
import { call } from "../lib/load";
import { NotFound } from "./NotFoundPage";
import { POLL_DELAYS, isFinal, onlinePaymentPath, payPath } from "../lib/payments";

type Watch =
  | { status: "loading" }
  | { status: "error"; failure: Failure }
  | { status: "ok"; payment: OnlinePayment; checks: number; late: boolean };

/**
 * Follows a payment (GET /payments/{id}) until its status is final: checked again after each of
 * POLL_DELAYS, then "not confirmed yet" with a button to check again. A failed check is shown
 * with a retry, never taken for a status.
 */
function usePayment(paymentId: string): [Watch, () => void, (payment: OnlinePayment) => void] {
  const [watch, setWatch] = useState<Watch>({ status: "loading" });
  const [round, setRound] = useState(0);
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => {
    let current = true;
    let checks = 0;
    const check = async () => {
      const outcome = await call(
        api.GET("/api/v1/payments/{payment_id}", { params: { path: { payment_id: paymentId } } }),
      );
      if (!current) return;
      if (!outcome.ok) {
        setWatch({ status: "error", failure: outcome.failure });
        return;
      }
      checks += 1;
      const payment = outcome.data;
      const delay = POLL_DELAYS[checks - 1];
      const late = !isFinal(payment.status) && delay === undefined;
      setWatch({ status: "ok", payment, checks, late });
      if (!isFinal(payment.status) && delay !== undefined) {
        timer.current = window.setTimeout(() => void check(), delay * 1000);
      }
    };
    void check();
    return () => {
      current = false;
      window.clearTimeout(timer.current);
    };
  }, [paymentId, round]);

  const again = useCallback(() => {
    setWatch({ status: "loading" });
    setRound((n) => n + 1);
  }, []);
  const replace = useCallback((payment: OnlinePayment) => {
    window.clearTimeout(timer.current);
    setWatch({ status: "ok", payment, checks: 0, late: false });
    // A check on its way would answer the status from before: start again from this one.
    setRound((n) => n + 1);
  }, []);
  return [watch, again, replace];
}

/** One online payment: its status followed until it is final, what it paid, what next. */
export default function OnlinePaymentPage() {
  const { t } = useI18n();
  const paymentId = useParams().paymentId ?? "";
  const [watch, again, replace] = usePayment(paymentId);
  if (watch.status === "error" && (watch.failure.status === 404 || watch.failure.status === 400)) {
    return <NotFound message={t("problem.not-found")} />;
  }
  return (
    <div className="medium">
      <p className="breadcrumb">
        <Link to="/payments/online">{t("onlinePayments.back")}</Link>
      </p>
      <PageHeading>{t("onlinePayment.title")}</PageHeading>
      {watch.status === "loading" ? <Loading label={t("onlinePayment.checking")} /> : null}
      {watch.status === "error" ? <Failed failure={watch.failure} onRetry={again} /> : null}
      {watch.status === "ok" ? <PaymentStatusView watch={watch} onAgain={again} onChanged={replace} /> : null}
    </div>
  );
}

function PaymentStatusView({
  watch,
  onAgain,
  onChanged,
}: {
  watch: Extract<Watch, { status: "ok" }>;
  onAgain: () => void;
  onChanged: (payment: OnlinePayment) => void;
}) {
  const i18n = useI18n();
  const { t, money, dateTime } = i18n;
  const { payment, checks, late } = watch;
  const [cancelling, setCancelling] = useState(false);
  const [cancelFailure, setCancelFailure] = useState<Failure | null>(null);
  const open = !isFinal(payment.status);
  const numbers = payment.invoices.map((share) => share.invoice_number);

  const cancel = async () => {
    setCancelling(true);
    setCancelFailure(null);
    const outcome = await call(
      api.POST("/api/v1/payments/{payment_id}/cancel", { params: { path: { payment_id: payment.payment_id } } }),
    );
    setCancelling(false);
    if (outcome.ok) onChanged(outcome.data);
    else if (outcome.failure.status === 409) onAgain();
    else setCancelFailure(outcome.failure);
  };

  return (
    <div className="pay-status">
      <section className={`card status-card status-${payment.status}`} aria-labelledby="payment-state" data-testid="payment-status" data-status={payment.status}>
        <h2 id="payment-state">{t(`onlinePayment.state.${payment.status}`)}</h2>
        <p>
          <PaymentStatusBadge status={payment.status} />
        </p>
        <p>{t(`onlinePayment.explain.${payment.status}`)}</p>
        {open && !late ? (
          <div role="status" aria-live="polite">
            <label htmlFor="payment-progress">{t("onlinePayment.waiting", { checks: String(checks) })}</label>
            <progress id="payment-progress" max={POLL_DELAYS.length + 1} value={checks} />
          </div>
        ) : null}
        {open && late ? (
          <div role="status">
            <p>{t("onlinePayment.late")}</p>
            <button type="button" className="button button-secondary" onClick={onAgain}>
              {t("onlinePayment.checkAgain")}
            </button>
          </div>
        ) : null}
        {open ? (
          <div className="actions">
            <FormAlert messages={cancelFailure ? [describeFailure(i18n, cancelFailure)] : []} />
            {payment.redirect_url && payment.status === "pending" ? (
              <a className="button" href={payment.redirect_url}>
                {t("onlinePayment.backToProvider")}
              </a>
            ) : null}
            <button type="button" className="button button-secondary" onClick={() => void cancel()} disabled={cancelling}>
              {t("onlinePayment.cancel")}
            </button>
          </div>
        ) : null}
        {payment.status === "paid" ? (
          <p className="actions">
            <Link to="/">{t("onlinePayment.toDashboard")}</Link>
            <Link to="/invoices">{t("dashboard.allInvoices")}</Link>
          </p>
        ) : null}
        {["failed", "cancelled", "expired"].includes(payment.status) ? (
          <p className="actions">
            <Link className="button" to={payPath(numbers)}>
              {t("onlinePayment.tryAgain")}
            </Link>
          </p>
        ) : null}
      </section>
      <section className="card">
        <h2 id="payment-facts">{t("onlinePayment.facts")}</h2>
        <dl className="facts facts-columns">
          <div>
            <dt>{t("payments.amount")}</dt>
            <dd className="figure" data-testid="payment-amount">
              {money(payment.amount)}
            </dd>
          </div>
          <div>
            <dt>{t("pay.method")}</dt>
            <dd>{t(`pay.method.${payment.method}`)}</dd>
          </div>
          <div>
            <dt>{t("onlinePayments.created")}</dt>
            <dd>{dateTime(payment.created_at)}</dd>
          </div>
          {payment.settled_at ? (
            <div>
              <dt>{t("onlinePayments.settled")}</dt>
              <dd>{dateTime(payment.settled_at)}</dd>
            </div>
          ) : null}
        </dl>
        <h3>{t("pay.invoices")}</h3>
        <ul>
          {payment.invoices.map((share) => (
            <li key={share.invoice_number}>
              <Link to={invoicePath(share.invoice_number)}>{share.invoice_number}</Link>: {money(share.amount)}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

function attemptOf(returnUrl: string): string | null {
  try {
    return new URL(returnUrl).searchParams.get("attempt");
  } catch {
    return null;
  }
}

/**
 * Where the provider sends the payer back (`?attempt=` the attempt's Idempotency-Key, which is in
 * the payment's return URL): the payment is found among the account's latest and its page shown.
 */
export function PaymentReturnPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const attempt = useSearchParams()[0].get("attempt") ?? "";
  const [failure, setFailure] = useState<Failure | null>(null);
  const [missing, setMissing] = useState(false);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let current = true;
    void call(api.GET("/api/v1/payments", { params: { query: { limit: 50 } } })).then((outcome) => {
      if (!current) return;
      if (!outcome.ok) {
        setFailure(outcome.failure);
        return;
      }
      const found = outcome.data.items.find((payment) => attempt && attemptOf(payment.return_url) === attempt);
      if (found) navigate(onlinePaymentPath(found.payment_id), { replace: true });
      else setMissing(true);
    });
    return () => {
      current = false;
    };
  }, [attempt, navigate, round]);

  return (
    <div className="medium">
      <PageHeading>{t("onlinePayment.title")}</PageHeading>
      {failure ? (
        <Failed
          failure={failure}
          onRetry={() => {
            setFailure(null);
            setRound((n) => n + 1);
          }}
        />
      ) : missing ? (
        <>
          <p>{t("onlinePayment.returnUnknown")}</p>
          <p>
            <Link to="/payments/online">{t("onlinePayments.title")}</Link>
          </p>
        </>
      ) : (
        <Loading label={t("onlinePayment.checking")} />
      )}
    </div>
  );
}
