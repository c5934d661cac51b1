import { useI18n } from "../i18n/I18nProvider";

/** Previous / next and where the list stands; only the count when everything fits one page. */
export function Pager({
  page,
  pageSize,
  total,
  onPage,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage(page: number): void;
}) {
  const { t } = useI18n();
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages === 1 && page === 1) return <p className="pager-single">{t("common.total", { count: total })}</p>;
  return (
    <nav className="pager" aria-label={t("common.paging")}>
      <button type="button" className="button button-secondary" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        {t("common.previous")}
      </button>
      <p>
        {t("common.pageOf", { page, pages })}
        <span className="pager-total"> · {t("common.total", { count: total })}</span>
      </p>
      <button type="button" className="button button-secondary" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        {t("common.next")}
      </button>
    </nav>
  );
}
