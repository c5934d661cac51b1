import { api } from "../api/client";
import { InvoiceLink, PagedTablePage } from "../components/PagedTable";
import { useI18n } from "../i18n/I18nProvider";
import { isMessageKey } from "../i18n/messages";
import { call } from "../lib/load";

export default function PaymentsPage() {
  const { t, date, money } = useI18n();
  const channel = (value: string) => {
    const key = `channel.${value.trim().toLowerCase().replace(/[\s-]+/g, "_")}`;
    return isMessageKey(key) ? t(key) : value;
  };
  return (
    <PagedTablePage
      title={t("payments.title")}
      caption={t("payments.caption")}
      empty={t("payments.empty")}
      load={(query) => call(api.GET("/api/v1/payments-received", { params: { query } }))}
      rowKey={(payment) => payment.booking_id}
      columns={[
        { header: t("payments.bookedOn"), cell: (payment) => date(payment.booked_on) },
        { header: t("payments.amount"), numeric: true, cell: (payment) => money(payment.amount) },
        { header: t("payments.invoice"), cell: (payment) => <InvoiceLink number={payment.invoice_number} /> },
        { header: t("payments.channel"), cell: (payment) => channel(payment.channel) },
      ]}
    />
  );
}
