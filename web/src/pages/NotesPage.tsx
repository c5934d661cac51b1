import { api } from "../api/client";
import { InvoiceLink, PagedTablePage } from "../components/PagedTable";
import { useI18n } from "../i18n/I18nProvider";
import { call } from "../lib/load";

export default function NotesPage() {
  const { t, date, money } = useI18n();
  return (
    <PagedTablePage
      title={t("notes.title")}
      caption={t("notes.caption")}
      empty={t("notes.empty")}
      load={(query) => call(api.GET("/api/v1/notes", { params: { query } }))}
      rowKey={(note) => note.note_number}
      columns={[
        { header: t("notes.number"), cell: (note) => note.note_number },
        { header: t("notes.kind"), cell: (note) => t(`notes.kind.${note.kind}`) },
        { header: t("notes.issuedOn"), cell: (note) => date(note.issued_on) },
        { header: t("notes.amount"), numeric: true, cell: (note) => money(note.amount) },
        { header: t("notes.description"), cell: (note) => note.description },
        { header: t("notes.invoice"), cell: (note) => <InvoiceLink number={note.invoice_number} /> },
      ]}
    />
  );
}
