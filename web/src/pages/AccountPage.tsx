import { useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";

import { api } from "../api/client";
import { signOut } from "../api/session";
import { isLanguage } from "../i18n/messages";
import { Notice } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";

export default function AccountPage() {
  const { t, dateTime } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const passwordChanged = Boolean((location.state as { passwordChanged?: boolean } | null)?.passwordChanged);
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/me")), []);
  const [leaving, setLeaving] = useState(false);

  const leave = async () => {
    setLeaving(true);
    await signOut();
    navigate("/login", { replace: true, state: { reason: "signed-out" } });
  };

  return (
    <div className="medium">
      <PageHeading>{t("account.title")}</PageHeading>
      {passwordChanged ? <Notice tone="success">{t("password.changed")}</Notice> : null}
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        <section className="card">
          <dl className="facts">
            <div>
              <dt>{t("account.login")}</dt>
              <dd>{state.data.login}</dd>
            </div>
            <div>
              <dt>{t("account.email")}</dt>
              <dd>{state.data.email}</dd>
            </div>
            {state.data.phone ? (
              <div>
                <dt>{t("account.phone")}</dt>
                <dd>{state.data.phone}</dd>
              </div>
            ) : null}
            {state.data.customer_id ? (
              <div>
                <dt>{t("account.customer")}</dt>
                <dd>{state.data.customer_id}</dd>
              </div>
            ) : null}
            <div>
              <dt>{t("account.language")}</dt>
              <dd>{isLanguage(state.data.language) ? t(`lang.${state.data.language}`) : state.data.language}</dd>
            </div>
            {state.data.activated_at ? (
              <div>
                <dt>{t("account.activatedAt")}</dt>
                <dd>{dateTime(state.data.activated_at)}</dd>
              </div>
            ) : null}
          </dl>
        </section>
      ) : null}
      <section className="card" aria-labelledby="account-notifications">
        <h2 id="account-notifications">{t("notifications.title")}</h2>
        <p>{t("account.notificationsIntro")}</p>
        <p>
          <Link to="/account/notifications">{t("account.notifications")}</Link>
        </p>
      </section>
      <p className="actions">
        <Link className="button button-secondary" to="/password">
          {t("account.changePassword")}
        </Link>
        <button type="button" className="button" onClick={() => void leave()} disabled={leaving} data-testid="sign-out">
          {leaving ? t("account.signingOut") : t("account.signOut")}
        </button>
      </p>
    </div>
  );
}
