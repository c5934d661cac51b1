import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import { acceptTokens, signOut } from "../api/session";
import { FormAlert, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { call } from "../lib/load";
import { useSession } from "../lib/session";

export default function PasswordPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const navigate = useNavigate();
  const session = useSession();
  // Decided when the page opens: the change itself clears must_change_password.
  const [forced] = useState(session.mustChangePassword);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [mismatch, setMismatch] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    if (next !== repeat) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setSending(true);
    const outcome = await call(
      api.POST("/api/v1/me/password", { body: { current_password: current, new_password: next } }),
    );
    setSending(false);
    if (outcome.ok) {
      acceptTokens(outcome.data);
      navigate(forced ? "/" : "/account", { replace: forced, state: { passwordChanged: true } });
    } else {
      setFailure(outcome.failure);
    }
  };

  const errors = describeFieldErrors(i18n, failure);
  const summary = failure ? [describeFailure(i18n, failure)] : mismatch ? [t("passwordRule.mismatch")] : [];

  return (
    <div className="narrow">
      <PageHeading>{t("password.title")}</PageHeading>
      <p className={forced ? "notice notice-info" : undefined}>{forced ? t("password.forcedIntro") : t("password.intro")}</p>
      <form className="form" onSubmit={submit} noValidate aria-busy={sending}>
        <FormAlert messages={summary} />
        <TextField
          id="current_password"
          type="password"
          label={forced ? t("password.currentForced") : t("password.current")}
          autoComplete="current-password"
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
          errors={errors.get("current_password")}
          required
        />
        <TextField
          id="new_password"
          type="password"
          label={t("password.new")}
          hint={t("password.rules")}
          autoComplete="new-password"
          value={next}
          onChange={(event) => setNext(event.target.value)}
          errors={errors.get("new_password")}
          required
        />
        <TextField
          id="repeat_password"
          type="password"
          label={t("password.repeat")}
          autoComplete="new-password"
          value={repeat}
          onChange={(event) => setRepeat(event.target.value)}
          errors={mismatch ? [t("passwordRule.mismatch")] : undefined}
          required
        />
        <button type="submit" className="button" disabled={sending}>
          {sending ? t("common.sending") : t("password.submit")}
        </button>
      </form>
      {forced ? (
        <p className="aside">
          <button
            type="button"
            className="link-button"
            data-testid="sign-out"
            onClick={() => void signOut().then(() => navigate("/login", { replace: true, state: { reason: "signed-out" } }))}
          >
            {t("password.signOut")}
          </button>
        </p>
      ) : null}
    </div>
  );
}
