import { Link } from "react-router";

import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { InvoiceLink, PagedTable } from "../components/PagedTable";
import { PaymentStatusBadge } from "../components/PaymentStatusBadge";
import { useI18n } from "../i18n/I18nProvider";
import { call } from "../lib/load";
import { onlinePaymentPath, payPath } from "../lib/payments";

/** The online payments made in e-BOK (GET /payments), newest first, each with its status. */
export default function OnlinePaymentsPage() {
  const { t, money, dateTime } = useI18n();
  return (
    <div>
      <PageHeading>{t("onlinePayments.title")}</PageHeading>
      <p>{t("onlinePayments.intro")}</p>
      <p className="actions">
        <Link className="button" to={payPath()}>
          {t("pay.action")}
        </Link>
        <Link to="/payments">{t("onlinePayments.received")}</Link>
      </p>
      <PagedTable
        caption={t("onlinePayments.caption")}
        empty={t("onlinePayments.empty")}
        load={(query) => call(api.GET("/api/v1/payments", { params: { query } }))}
        rowKey={(payment) => payment.payment_id}
        testId="online-payments-table"
        tableClassName="wide-table"
        columns={[
          {
            header: t("onlinePayments.created"),
            cell: (payment) => (
              <Link to={onlinePaymentPath(payment.payment_id)}>{dateTime(payment.created_at)}</Link>
            ),
          },
          { header: t("payments.amount"), numeric: true, cell: (payment) => money(payment.amount) },
          { header: t("pay.method"), cell: (payment) => t(`pay.method.${payment.method}`) },
          {
            header: t("pay.invoices"),
            cell: (payment) =>
              payment.invoices.map((share) => (
                <p className="cell-line" key={share.invoice_number}>
                  <InvoiceLink number={share.invoice_number} />
                </p>
              )),
          },
          { header: t("invoice.status"), cell: (payment) => <PaymentStatusBadge status={payment.status} /> },
        ]}
      />
    </div>
  );
}
