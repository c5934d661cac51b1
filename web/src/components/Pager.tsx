import type { Failure } from "../api/problems";
import { useI18n } from "../i18n/I18nProvider";
import { cursorRefused } from "../lib/paging";
import { Failed } from "./Status";

/** Newer / older entries of a list paged by cursor (and back to the newest once past them);
 * nothing when the whole list fits one page. A list shows no count: it is not counted. */
export function Pager({
  next,
  prev,
  onPage,
}: {
  next: string | null;
  prev: string | null;
  onPage(cursor: string | null): void;
}) {
  const { t } = useI18n();
  if (next === null && prev === null) return null;
  return (
    <nav className="pager" aria-label={t("common.paging")}>
      {prev !== null ? (
        <button type="button" className="button button-secondary" onClick={() => onPage(null)}>
          {t("common.newest")}
        </button>
      ) : null}
      <button type="button" className="button button-secondary" disabled={prev === null} onClick={() => onPage(prev)}>
        {t("common.newer")}
      </button>
      <button type="button" className="button button-secondary" disabled={next === null} onClick={() => onPage(next)}>
        {t("common.older")}
      </button>
    </nav>
  );
}

/** A list that did not load: a refused cursor (an edited or outdated address) leads back to
 * the newest entries; anything else is a failure as usual. */
export function ListFailed({
  failure,
  onRetry,
  onNewest,
}: {
  failure: Failure;
  onRetry(): void;
  onNewest(): void;
}) {
  const { t } = useI18n();
  if (!cursorRefused(failure)) return <Failed failure={failure} onRetry={onRetry} />;
  return (
    <div className="failure" role="alert">
      <p className="failure-title">{t("common.errorTitle")}</p>
      <p>{t("common.cursorInvalid")}</p>
      <p className="actions">
        <button type="button" className="button" onClick={onNewest}>
          {t("common.newest")}
        </button>
      </p>
    </div>
  );
}
