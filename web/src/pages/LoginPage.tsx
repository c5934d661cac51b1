import { useState, type FormEvent } from "react";
import { Link, Navigate, useLocation } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import { acceptTokens } from "../api/session";
import { FormAlert, Notice, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call } from "../lib/load";
import { useSession } from "../lib/session";

interface LoginState {
  from?: string;
  reason?: "expired" | "signed-out" | null;
}

export function LoginPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const session = useSession();
  const location = useLocation();
  const state = (location.state ?? {}) as LoginState;
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  if (session.status === "signed-in") {
    const from = state.from && state.from !== "/login" ? state.from : "/";
    return <Navigate to={session.mustChangePassword ? "/password" : from} replace />;
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(api.POST("/api/v1/auth/login", { body: { login: login.trim(), password } }));
    setSending(false);
    if (outcome.ok) {
      acceptTokens(outcome.data);
    } else {
      setFailure(outcome.failure);
      setPassword("");
    }
  };

  const errors = describeFieldErrors(i18n, failure);
  const reason = failure ? null : state.reason;

  return (
    <div className="narrow">
      <PageHeading>{t("login.title")}</PageHeading>
      {reason === "expired" ? <Notice>{t("login.expired")}</Notice> : null}
      {reason === "signed-out" ? <Notice tone="success">{t("login.signedOut")}</Notice> : null}
      <p>{t("login.intro")}</p>
      <form className="form" onSubmit={submit} noValidate aria-busy={sending}>
        <FormAlert messages={failure ? [describeFailure(i18n, failure)] : []} />
        <TextField
          id="login"
          label={t("login.login")}
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={login}
          onChange={(event) => setLogin(event.target.value)}
          errors={errors.get("login")}
          required
        />
        <TextField
          id="password"
          type="password"
          label={t("login.password")}
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          errors={errors.get("password")}
          required
        />
        <button type="submit" className="button" disabled={sending}>
          {sending ? t("login.submitting") : t("login.submit")}
        </button>
      </form>
      <p className="aside">
        {t("login.noAccount")} <Link to="/register">{t("login.register")}</Link>
      </p>
    </div>
  );
}
