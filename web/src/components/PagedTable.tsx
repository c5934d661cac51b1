import type { ReactNode } from "react";
import { Link } from "react-router";

import { useI18n } from "../i18n/I18nProvider";
import { useLoad, type Outcome } from "../lib/load";
import { usePage } from "../lib/paging";
import { Pager } from "./Pager";
import { PageHeading } from "./PageHeading";
import { Failed, Loading } from "./Status";
import { invoicePath } from "./Views";

const PAGE_SIZE = 20;

interface PageOf<T> {
  items: T[];
  page: number;
  page_size: number;
  total: number;
}

export interface Column<T> {
  header: string;
  numeric?: boolean;
  cell: (row: T) => ReactNode;
}

/** A page of its own holding one paged list as a table: the first column heads each row, the
 * page number is kept in the address, loading and failure are shown in place. */
export function PagedTablePage<T>({
  title,
  caption,
  empty,
  load,
  rowKey,
  columns,
}: {
  title: string;
  caption: string;
  empty: string;
  load: (query: { page: number; page_size: number }) => Promise<Outcome<PageOf<T>>>;
  rowKey: (row: T) => string;
  columns: Column<T>[];
}) {
  const [page, setPage] = usePage();
  const [state, reload] = useLoad(() => load({ page, page_size: PAGE_SIZE }), [page]);
  const [first, ...rest] = columns;
  return (
    <div>
      <PageHeading>{title}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.items.length && first ? (
          <>
            <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
              <table>
                <caption className="visually-hidden">{caption}</caption>
                <thead>
                  <tr>
                    {columns.map((column) => (
                      <th key={column.header} scope="col" className={column.numeric ? "num" : undefined}>
                        {column.header}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {state.data.items.map((row) => (
                    <tr key={rowKey(row)}>
                      <th scope="row" className={first.numeric ? "num" : undefined}>
                        {first.cell(row)}
                      </th>
                      {rest.map((column) => (
                        <td key={column.header} className={column.numeric ? "num" : undefined}>
                          {column.cell(row)}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager page={state.data.page} pageSize={state.data.page_size} total={state.data.total} onPage={setPage} />
          </>
        ) : (
          <p className="empty">{empty}</p>
        )
      ) : null}
    </div>
  );
}

/** The invoice a row concerns, as a link; "none" when it concerns none. */
export function InvoiceLink({ number }: { number: string | null | undefined }) {
  const { t } = useI18n();
  return number ? <Link to={invoicePath(number)}>{number}</Link> : <>{t("common.none")}</>;
}
