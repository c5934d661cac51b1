import { Link } from "react-router";

import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";

export function NotFound({ message }: { message?: string }) {
  const { t } = useI18n();
  return (
    <div className="narrow">
      <PageHeading>{t("notFound.title")}</PageHeading>
      <p>{message ?? t("notFound.body")}</p>
      <p>
        <Link className="button" to="/">
          {t("notFound.home")}
        </Link>
      </p>
    </div>
  );
}

export default function NotFoundPage() {
  return <NotFound />;
}
