import { Link } from "react-router";

import { api } from "../api/client";
import { Pager } from "../components/Pager";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { invoicePath } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { isMessageKey } from "../i18n/messages";
import { call, useLoad } from "../lib/load";
import { usePage } from "../lib/paging";

const PAGE_SIZE = 20;

export default function PaymentsPage() {
  const { t, date, money } = useI18n();
  const [page, setPage] = usePage();
  const [state, reload] = useLoad(
    () => call(api.GET("/api/v1/payments-received", { params: { query: { page, page_size: PAGE_SIZE } } })),
    [page],
  );
  const channel = (value: string) => {
    const key = `channel.${value.trim().toLowerCase().replace(/[\s-]+/g, "_")}`;
    return isMessageKey(key) ? t(key) : value;
  };
  return (
    <div>
      <PageHeading>{t("payments.title")}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.items.length ? (
          <>
            <div className="table-wrap" role="region" aria-label={t("payments.caption")} tabIndex={0}>
              <table>
                <caption className="visually-hidden">{t("payments.caption")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("payments.bookedOn")}</th>
                    <th scope="col" className="num">{t("payments.amount")}</th>
                    <th scope="col">{t("payments.invoice")}</th>
                    <th scope="col">{t("payments.channel")}</th>
                  </tr>
                </thead>
                <tbody>
                  {state.data.items.map((payment) => (
                    <tr key={payment.booking_id}>
                      <th scope="row">{date(payment.booked_on)}</th>
                      <td className="num">{money(payment.amount)}</td>
                      <td>
                        {payment.invoice_number ? (
                          <Link to={invoicePath(payment.invoice_number)}>{payment.invoice_number}</Link>
                        ) : (
                          t("common.none")
                        )}
                      </td>
                      <td>{channel(payment.channel)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager page={state.data.page} pageSize={state.data.page_size} total={state.data.total} onPage={setPage} />
          </>
        ) : (
          <p className="empty">{t("payments.empty")}</p>
        )
      ) : null}
    </div>
  );
}
