import type { Scope } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { Choice } from "../pages/ManagerRequestPage";
import { FieldErrors } from "./Form";

/** Service point ids typed as a list (commas, spaces or lines between them). */
export function pointList(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).filter(Boolean))];
}

/** The scope of a grant and, for a partial one, its service points typed by id. */
export function GrantFields({
  base,
  scope,
  setScope,
  points,
  setPoints,
  errors,
}: {
  base: string;
  scope: Scope;
  setScope: (scope: Scope) => void;
  points: string;
  setPoints: (points: string) => void;
  errors?: string[] | undefined;
}) {
  const { t } = useI18n();
  const errorId = errors?.length ? `${base}-points-error` : undefined;
  return (
    <>
      <fieldset className="choices">
        <legend>{t("managerRequest.scope")}</legend>
        <Choice name={`${base}-scope`} value="full" checked={scope === "full"} onChange={() => setScope("full")} label={t("scope.fullLong")} />
        <Choice name={`${base}-scope`} value="partial" checked={scope === "partial"} onChange={() => setScope("partial")} label={t("scope.partialLong")} />
      </fieldset>
      {scope === "partial" ? (
        <div className={errorId ? "field field-invalid" : "field"}>
          <label htmlFor={`${base}-points`}>{t("operator.servicePoints")}</label>
          <p className="hint" id={`${base}-points-hint`}>
            {t("operator.servicePointsHint")}
          </p>
          <FieldErrors id={errorId} errors={errors} />
          <textarea
            id={`${base}-points`}
            rows={2}
            value={points}
            onChange={(event) => setPoints(event.target.value)}
            aria-invalid={errorId ? true : undefined}
            aria-describedby={[errorId, `${base}-points-hint`].filter(Boolean).join(" ")}
            spellCheck={false}
          />
        </div>
      ) : null}
    </>
  );
}
