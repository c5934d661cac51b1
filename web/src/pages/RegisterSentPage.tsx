import { Link, useLocation } from "react-router";

import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";

export default function RegisterSentPage() {
  const { t } = useI18n();
  const email = (useLocation().state as { email?: string } | null)?.email;
  return (
    <div className="narrow">
      <PageHeading>{t("registerSent.title")}</PageHeading>
      <div className="mail-illustration" aria-hidden="true" />
      <p>{email ? t("registerSent.body", { email }) : t("registerSent.bodyNoEmail")}</p>
      <p>{t("registerSent.validity")}</p>
      <p>{t("registerSent.noEmail")}</p>
      <p className="actions">
        <Link className="button button-secondary" to="/activate" state={{ newLink: true }}>
          {t("registerSent.newLink")}
        </Link>
        <Link className="button" to="/login">
          {t("registerSent.toLogin")}
        </Link>
      </p>
    </div>
  );
}
