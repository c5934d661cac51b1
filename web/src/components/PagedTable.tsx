import type { ReactNode } from "react";
import { Link } from "react-router";

import { useI18n } from "../i18n/I18nProvider";
import { useLoad, type Outcome } from "../lib/load";
import { cursorQuery, useCursor, type CursorPage } from "../lib/paging";
import { ListFailed, Pager } from "./Pager";
import { PageHeading } from "./PageHeading";
import { Loading } from "./Status";
import { invoicePath } from "./Views";

const PAGE_SIZE = 20;

export interface Column<T> {
  header: string;
  numeric?: boolean;
  cell: (row: T) => ReactNode;
}

export interface PagedTableProps<T> {
  caption: string;
  empty: string;
  load: (query: { limit: number; cursor?: string }) => Promise<Outcome<CursorPage<T>>>;
  rowKey: (row: T) => string;
  columns: Column<T>[];
  pageSize?: number;
  /** The page shown loads again when this changes (e.g. after a row was added). */
  refresh?: unknown;
  testId?: string;
  /** "wide-table": scrolls sideways on a phone rather than squeezing its columns. */
  tableClassName?: string;
}

/** One list paged by cursor, as a table: the first column heads each row, the cursor is kept
 * in the address (?cursor=), loading and failure are shown in place. */
export function PagedTable<T>({
  caption,
  empty,
  load,
  rowKey,
  columns,
  pageSize = PAGE_SIZE,
  refresh,
  testId,
  tableClassName,
}: PagedTableProps<T>) {
  const { cursor, go, listRef } = useCursor();
  const [state, reload] = useLoad(() => load(cursorQuery(cursor, pageSize)), [cursor, refresh]);
  const [first, ...rest] = columns;
  if (state.status === "loading") return <Loading />;
  if (state.status === "error") return <ListFailed failure={state.failure} onRetry={reload} onNewest={() => go(null)} />;
  const pager = <Pager next={state.data.next_cursor} prev={state.data.prev_cursor} onPage={go} />;
  if (!state.data.items.length || !first) {
    return (
      <>
        <p className="empty">{empty}</p>
        {pager}
      </>
    );
  }
  return (
    <>
      <div className="table-wrap" role="region" aria-label={caption} tabIndex={0} ref={listRef}>
        <table data-testid={testId} className={tableClassName}>
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
      {pager}
    </>
  );
}

/** A page of its own holding one PagedTable. */
export function PagedTablePage<T>({ title, ...table }: { title: string } & PagedTableProps<T>) {
  return (
    <div>
      <PageHeading>{title}</PageHeading>
      <PagedTable {...table} />
    </div>
  );
}

/** The invoice a row concerns, as a link; "none" when it concerns none. */
export function InvoiceLink({ number }: { number: string | null | undefined }) {
  const { t } = useI18n();
  return number ? <Link to={invoicePath(number)}>{number}</Link> : <>{t("common.none")}</>;
}
