import { useEffect, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import type { EInvoiceConfirmed } from "../api/types";
import { Notice } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { confirmationToken, linkRefusal } from "../lib/eInvoice";
import { call, type Outcome } from "../lib/load";
import { useSession } from "../lib/session";

// One POST per token and page load: a second one (React's development double effects, a
// re-render) would find the link already used.
const confirmations = new Map<string, Promise<Outcome<EInvoiceConfirmed>>>();

function confirm(token: string): Promise<Outcome<EInvoiceConfirmed>> {
  let pending = confirmations.get(token);
  if (!pending) {
    pending = call(api.POST("/api/v1/e-invoice/confirmations", { body: { token } }));
    confirmations.set(token, pending);
  }
  return pending;
}

type Result =
  | { status: "working" }
  | { status: "done"; confirmed: EInvoiceConfirmed }
  | { status: "failed"; failure: Failure }
  | { status: "no-token" };

/** `/e-invoice/confirm#token=…`, the link emailed to an e-invoice address: public (whoever
 * reads that mailbox may not have the account), it confirms the address and says where
 * e-invoices go, or why the link no longer works and what to do. */
export default function EInvoiceConfirmPage() {
  const { t } = useI18n();
  const location = useLocation();
  const navigate = useNavigate();
  const session = useSession();
  // Read once, at the first render: the address bar loses the token right after.
  const [token, setToken] = useState(() => confirmationToken(location.hash, location.search));
  const [result, setResult] = useState<Result>(() => (token ? { status: "working" } : { status: "no-token" }));
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    // Another link opened in the same tab changes only the fragment: read its token too.
    const next = confirmationToken(location.hash, location.search);
    if (next && next !== token) setToken(next);
    if (location.hash || location.search) navigate({ pathname: "/e-invoice/confirm", search: "", hash: "" }, { replace: true });
  }, [location.hash, location.search, navigate, token]);

  useEffect(() => {
    if (!token) return;
    let current = true;
    setResult({ status: "working" });
    void confirm(token).then((outcome) => {
      if (!current) return;
      setResult(outcome.ok ? { status: "done", confirmed: outcome.data } : { status: "failed", failure: outcome.failure });
    });
    return () => {
      current = false;
    };
  }, [token, attempt]);

  const retry = () => {
    if (token) confirmations.delete(token);
    setAttempt((n) => n + 1);
  };

  const signedIn = session.status === "signed-in";
  const toEInvoice = (
    <p>
      <Link className="button" to={signedIn ? "/e-invoice" : "/login"} state={signedIn ? undefined : { from: "/e-invoice" }}>
        {signedIn ? t("eInvoiceConfirm.toEInvoice") : t("eInvoiceConfirm.signIn")}
      </Link>
    </p>
  );
  const refusal = result.status === "failed" ? linkRefusal(result.failure) : null;

  return (
    <div className="narrow">
      <PageHeading>{t("eInvoiceConfirm.title")}</PageHeading>
      {result.status === "working" ? <Loading label={t("eInvoiceConfirm.working")} /> : null}
      {result.status === "done" ? (
        <>
          <Notice tone="success">
            <p data-testid="e-invoice-confirmed">
              <strong>{t(`eInvoiceConfirm.done.${result.confirmed.purpose}`)}</strong>
            </p>
            <p>{t("eInvoiceConfirm.goesTo", { address: result.confirmed.address })}</p>
          </Notice>
          <p>{t("eInvoiceConfirm.next")}</p>
          {toEInvoice}
        </>
      ) : null}
      {result.status === "no-token" ? (
        <>
          <p>{t("eInvoiceConfirm.noToken")}</p>
          {toEInvoice}
        </>
      ) : null}
      {result.status === "failed" && refusal === null ? <Failed failure={result.failure} onRetry={retry} /> : null}
      {result.status === "failed" && refusal !== null ? (
        <>
          <div className="failure" role="alert" data-testid="e-invoice-link-refused" data-refusal={refusal}>
            <p className="failure-title">{t(`eInvoiceConfirm.refused.${refusal}`)}</p>
            <p>{t(`eInvoiceConfirm.whatNow.${refusal}`)}</p>
          </div>
          {toEInvoice}
        </>
      ) : null}
    </div>
  );
}
