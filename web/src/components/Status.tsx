import { Link } from "react-router";

import type { Failure } from "../api/problems";
import { problemCode } from "../api/problems";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";

/** The progress indicator of a call (role="status", named). */
export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  const text = label ?? t("common.loading");
  return (
    <div className="page-status" role="status" aria-label={text} data-testid="page-status">
      <span className="spinner" aria-hidden="true" />
      <span>{text}</span>
    </div>
  );
}

/** A failed call: what happened and what to do next. */
export function Failed({ failure, onRetry }: { failure: Failure; onRetry?: () => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const code = problemCode(failure);
  const signIn = failure.status === 401 || code === "unauthorized";
  return (
    <div className="failure" role="alert">
      <p className="failure-title">{t("common.errorTitle")}</p>
      <p>{describeFailure(i18n, failure)}</p>
      <p className="actions">
        {code === "password-change-required" ? (
          <Link className="button" to="/password">
            {t("password.title")}
          </Link>
        ) : signIn ? (
          <Link className="button" to="/login">
            {t("common.signInAgain")}
          </Link>
        ) : failure.status === 404 ? (
          <Link className="button" to="/">
            {t("common.home")}
          </Link>
        ) : onRetry ? (
          <button type="button" className="button" onClick={onRetry}>
            {t("common.retry")}
          </button>
        ) : null}
      </p>
    </div>
  );
}

/** A part of the dashboard whose service did not answer. */
export function Unavailable() {
  const { t } = useI18n();
  return (
    <p className="notice notice-warning" role="note">
      {t("common.unavailable")}
    </p>
  );
}
