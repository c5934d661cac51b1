import { Link, useLocation } from "react-router";

import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";

export default function ManagerRequestSentPage() {
  const { t } = useI18n();
  const state = (useLocation().state ?? {}) as { reference?: unknown; email?: unknown };
  const reference = typeof state.reference === "string" ? state.reference : null;
  const email = typeof state.email === "string" ? state.email : null;
  return (
    <div className="medium">
      <PageHeading>{t("managerRequestSent.title")}</PageHeading>
      {reference ? (
        <section className="card">
          <p>{t("managerRequestSent.reference")}</p>
          <p className="figure" data-testid="request-reference">
            {reference}
          </p>
        </section>
      ) : null}
      <p>{email ? t("managerRequestSent.body", { email }) : t("managerRequestSent.bodyNoEmail")}</p>
      <p>{t("managerRequestSent.next")}</p>
      <p>
        <Link className="button" to="/login">
          {t("registerSent.toLogin")}
        </Link>
      </p>
    </div>
  );
}
