import { Link } from "react-router";

import { api } from "../api/client";
import { Pager } from "../components/Pager";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { invoicePath } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";
import { usePage } from "../lib/paging";

const PAGE_SIZE = 20;

export default function NotesPage() {
  const { t, date, money } = useI18n();
  const [page, setPage] = usePage();
  const [state, reload] = useLoad(
    () => call(api.GET("/api/v1/notes", { params: { query: { page, page_size: PAGE_SIZE } } })),
    [page],
  );
  return (
    <div>
      <PageHeading>{t("notes.title")}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.items.length ? (
          <>
            <div className="table-wrap" role="region" aria-label={t("notes.caption")} tabIndex={0}>
              <table>
                <caption className="visually-hidden">{t("notes.caption")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("notes.number")}</th>
                    <th scope="col">{t("notes.kind")}</th>
                    <th scope="col">{t("notes.issuedOn")}</th>
                    <th scope="col" className="num">{t("notes.amount")}</th>
                    <th scope="col">{t("notes.description")}</th>
                    <th scope="col">{t("notes.invoice")}</th>
                  </tr>
                </thead>
                <tbody>
                  {state.data.items.map((note) => (
                    <tr key={note.note_number}>
                      <th scope="row">{note.note_number}</th>
                      <td>{t(`notes.kind.${note.kind}`)}</td>
                      <td>{date(note.issued_on)}</td>
                      <td className="num">{money(note.amount)}</td>
                      <td>{note.description}</td>
                      <td>
                        {note.invoice_number ? (
                          <Link to={invoicePath(note.invoice_number)}>{note.invoice_number}</Link>
                        ) : (
                          t("common.none")
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager page={state.data.page} pageSize={state.data.page_size} total={state.data.total} onPage={setPage} />
          </>
        ) : (
          <p className="empty">{t("notes.empty")}</p>
        )
      ) : null}
    </div>
  );
}
