import { useState } from "react";
import { Link, useParams } from "react-router";

import { api } from "../api/client";
import { networkFailure, type Failure } from "../api/problems";
import { FormAlert } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { StatusBadge } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";
import { call, useLoad } from "../lib/load";
import { hasDue, payPath } from "../lib/payments";
import { NotFound } from "./NotFoundPage";

/** The PDF fetched with the access token, saved through a blob URL. */
function PdfDownload({ number }: { number: string }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  const download = async () => {
    setBusy(true);
    setFailure(null);
    const outcome = await call(
      api.GET("/api/v1/invoices/{number}/pdf", { params: { path: { number } }, parseAs: "blob" }),
    );
    setBusy(false);
    if (!outcome.ok) {
      setFailure(outcome.failure);
      return;
    }
    const blob = outcome.data instanceof Blob ? outcome.data : null;
    if (!blob) {
      setFailure(networkFailure);
      return;
    }
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${number.replace(/[^A-Za-z0-9_-]+/g, "_")}.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };

  return (
    <div className="pdf">
      <button type="button" className="button" onClick={() => void download()} disabled={busy} data-testid="invoice-pdf" aria-busy={busy}>
        {busy ? t("invoiceDetail.pdfLoading") : t("invoiceDetail.pdf")}
      </button>
      <FormAlert messages={failure ? [describeFailure(i18n, failure)] : []} />
    </div>
  );
}

export default function InvoicePage() {
  const { t, date, money, rate, number: formatNumber } = useI18n();
  const number = useParams().number ?? "";
  const [state, reload] = useLoad(
    () => call(api.GET("/api/v1/invoices/{number}", { params: { path: { number } } })),
    [number],
  );

  if (state.status === "error" && state.failure.status === 404) {
    return <NotFound message={t("problem.not-found")} />;
  }

  return (
    <div>
      <p className="breadcrumb">
        <Link to="/invoices">{t("invoiceDetail.back")}</Link>
      </p>
      <PageHeading>{t("invoiceDetail.title", { number })}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        <>
          <section className="card">
            <h2 id="invoice-summary">{t("invoiceDetail.summary")}</h2>
            <dl className="facts facts-columns">
              <div>
                <dt>{t("invoice.status")}</dt>
                <dd>
                  <StatusBadge status={state.data.status} />
                </dd>
              </div>
              <div>
                <dt>{t("invoice.contract")}</dt>
                <dd>{state.data.contract_number}</dd>
              </div>
              <div>
                <dt>{t("invoice.period")}</dt>
                <dd>{t("invoice.periodRange", { from: date(state.data.period_from), to: date(state.data.period_to) })}</dd>
              </div>
              <div>
                <dt>{t("invoice.issuedOn")}</dt>
                <dd>{date(state.data.issued_on)}</dd>
              </div>
              <div>
                <dt>{t("invoice.dueOn")}</dt>
                <dd>{date(state.data.due_on)}</dd>
              </div>
              <div>
                <dt>{t("invoice.net")}</dt>
                <dd>{money(state.data.net)}</dd>
              </div>
              <div>
                <dt>{t("invoice.vat")}</dt>
                <dd>{money(state.data.vat)}</dd>
              </div>
              <div>
                <dt>{t("invoice.gross")}</dt>
                <dd>{money(state.data.gross)}</dd>
              </div>
              <div>
                <dt>{t("invoice.paid")}</dt>
                <dd>{money(state.data.paid)}</dd>
              </div>
              <div>
                <dt>{t("invoice.amountDue")}</dt>
                <dd className="figure">{money(state.data.amount_due)}</dd>
              </div>
            </dl>
            {hasDue(state.data) ? (
              <p>
                <Link className="button" to={payPath([state.data.invoice_number])}>
                  {t("pay.invoiceAmount", { amount: money(state.data.amount_due) })}
                </Link>
              </p>
            ) : null}
            <PdfDownload number={number} />
          </section>
          <section>
            <h2 id="invoice-lines">{t("invoiceDetail.lines")}</h2>
            <div className="table-wrap" role="region" aria-labelledby="invoice-lines" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("invoiceDetail.description")}</th>
                    <th scope="col" className="num">{t("invoiceDetail.quantity")}</th>
                    <th scope="col">{t("invoiceDetail.unit")}</th>
                    <th scope="col" className="num">{t("invoiceDetail.unitPrice")}</th>
                    <th scope="col" className="num">{t("invoiceDetail.lineNet")}</th>
                    <th scope="col" className="num">{t("invoiceDetail.vatRate")}</th>
                  </tr>
                </thead>
                <tbody>
                  {state.data.lines.map((line, index) => (
                    <tr key={index}>
                      <th scope="row">{line.description}</th>
                      <td className="num">{formatNumber(line.quantity)}</td>
                      <td>{line.unit}</td>
                      <td className="num">{money(line.unit_price)}</td>
                      <td className="num">{money(line.net)}</td>
                      <td className="num">{rate(line.vat_rate)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      ) : null}
    </div>
  );
}
